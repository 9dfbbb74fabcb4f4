import CFlavourShim
import FlavourPOSIX
import Glibc

/// Signals a process only while it is still the one a status file names: the pid is
/// opened as a pidfd first, then its start time in /proc checked, then the signal goes
/// through the pidfd. Had the process exited and its pid gone to another, the check fails;
/// had it exited after the check, the pidfd still names it and the signal fails (ESRCH). A
/// plain kill(2) between a check and the signal could hit whatever took the pid meanwhile.
public enum ProcessSignal {
    /// Sends `signal` to the process `pid` if its start time (field 22 of `/proc/PID/stat`)
    /// is `startTime`; the errno why not (ESRCH: gone or another process now), or 0.
    public static func send(_ signal: Int32, to pid: Int32, startTime: UInt64, startTimeNow: (Int32) -> UInt64?) -> Int32 {
        let pidfd = flavour_pidfd_open(pid)
        guard pidfd >= 0 else { return errno }
        defer { close(pidfd) }
        guard startTimeNow(pid) == startTime else { return ESRCH }
        return Syscall.retrying { flavour_pidfd_send_signal(pidfd, signal) } == 0 ? 0 : errno
    }
}
