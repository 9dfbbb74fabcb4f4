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

    /// The groups `in_group_p` checks: the fsgid (`Gid:`'s fourth field) and `Groups:`.
    public static func groups(status text: String) -> Set<UInt32> {
        var result: Set<UInt32> = []
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.first == "Gid:", fields.count >= 5, let fsgid = UInt32(fields[4]) { result.insert(fsgid) }
            if fields.first == "Groups:" { result.formUnion(fields.dropFirst().compactMap { UInt32($0) }) }
        }
        return result
    }

    /// Whether procfs mounted with these options hides processes from a reader in
    /// `groups` without CAP_SYS_PTRACE: `hidepid=` 1, 2, `noaccess`, `invisible` or
    /// `ptraceable` does, except to members of its `gid=` group, root's group 0 when the
    /// option is absent (`fs/proc/root.c`; `fs/proc/base.c`, has_pid_permissions).
    public static func hidesProcesses(options: String, groups: Set<UInt32>) -> Bool {
        let parts = options.split(separator: ",")
        guard parts.contains(where: { $0.hasPrefix("hidepid=") && !["0", "off"].contains($0.dropFirst(8)) }) else { return false }
        let exempt = parts.first { $0.hasPrefix("gid=") }.flatMap { UInt32($0.dropFirst(4)) } ?? 0
        return !groups.contains(exempt)
    }
}
