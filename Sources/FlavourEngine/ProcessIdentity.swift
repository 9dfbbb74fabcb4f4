import FlavourCore

#if canImport(Glibc)
import Glibc
#endif

/// A process as the kernel tells it apart from a later one with the same pid: its pid and
/// its start time (`/proc/PID/stat` field 22, clock ticks after boot). flavourd writes its own
/// into status.json; flavourctl signals that pid only while the process under it is still the
/// one that wrote the file (a pid is reused once its process is gone).
public struct ProcessIdentity: Hashable, Sendable, CustomStringConvertible {
    public let pid: Int32
    public let startTime: UInt64

    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    /// The process `pid` is now, from `/proc/PID/stat`; nil when there is none.
    public static func of(_ pid: Int32, procRoot: String = DefaultPaths.procRoot) -> ProcessIdentity? {
        guard pid > 0, let bytes = try? FileSystem.read("\(procRoot)/\(pid)/stat"),
              let startTime = startTime(stat: String(decoding: bytes, as: UTF8.self))
        else { return nil }
        return ProcessIdentity(pid: pid, startTime: startTime)
    }

    /// This process.
    public static func current(procRoot: String = DefaultPaths.procRoot) -> ProcessIdentity? { of(getpid(), procRoot: procRoot) }

    /// Whether the process with this pid is still this one.
    public func isRunning(procRoot: String = DefaultPaths.procRoot) -> Bool { Self.of(pid, procRoot: procRoot) == self }

    /// Field 22 of a `/proc/PID/stat` line. The command (field 2) is in parentheses and may
    /// itself hold spaces and parentheses, so the fields are counted from the last `)`
    /// (fs/proc/array.c, do_task_stat).
    static func startTime(stat: String) -> UInt64? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    public var description: String { "pid \(pid) (started at \(startTime) ticks after boot)" }
}
