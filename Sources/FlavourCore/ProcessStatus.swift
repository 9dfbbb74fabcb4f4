/// What the in-use guard reads from `/proc/self/status` (`fs/proc/array.c`,
/// proc_pid_status): the effective capabilities, `CapEff:` as 16 hex digits.
public enum ProcessStatus {
    /// CAP_SYS_PTRACE (`include/uapi/linux/capability.h`): with it, procfs mounted with
    /// `hidepid=` still shows every process (`fs/proc/base.c`, has_pid_permissions).
    public static let sysPtrace: UInt64 = 1 << 19

    /// The `CapEff:` bits; nil when the line is missing or malformed.
    public static func effectiveCapabilities(status text: String) -> UInt64? {
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("CapEff:") {
            let value = line.dropFirst(7).drop { $0 == " " || $0 == "\t" }
            return UInt64(value, radix: 16)
        }
        return nil
    }

    /// Whether procfs mount options hide other users' processes (`hidepid=1`, `2`,
    /// `noaccess`, `invisible`, `ptraceable`; `fs/proc/root.c`).
    public static func hidesProcesses(options: String) -> Bool {
        options.split(separator: ",").contains { option in
            option.hasPrefix("hidepid=") && !["0", "off"].contains(option.dropFirst(8))
        }
    }
}
