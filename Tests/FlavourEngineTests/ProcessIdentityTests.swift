import FlavourEngine
import FlavourTestKernel
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ProcessIdentityTests {
    /// Field 22 counted from the last `)`: a command may hold spaces and parentheses.
    @Test(arguments: [
        ("412 (flavourd) S 1 412 412 0 -1 4194560 1234 0 0 0 10 5 0 0 20 0 3 0 1773 12345678 900 18446744073709551615", UInt64(1773)),
        ("7 (a) b (c d) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0", 99),
    ])
    func startTimeIsField22(stat: String, startTime: UInt64) throws {
        let root = try makeProc(stat)
        #expect(ProcessIdentity.of(412, procRoot: root.path)?.startTime == startTime)
    }

    @Test func aCutLineHasNoStartTime() throws {
        #expect(ProcessIdentity.of(412, procRoot: try makeProc("412 (flavourd) S 1 412").path) == nil)
        #expect(ProcessIdentity.of(412, procRoot: "/nonexistent") == nil)
    }

    /// This process, read from the real /proc, is running; with another start time it is not.
    @Test func thisProcessIsRunningAndAnotherStartTimeIsNot() throws {
        let me = try #require(ProcessIdentity.current())
        #expect(me.pid == getpid())
        #expect(me.isRunning())
        #expect(!ProcessIdentity(pid: me.pid, startTime: me.startTime + 1).isRunning())
    }

    /// A /proc with process 412 whose stat line is `stat`.
    func makeProc(_ stat: String) throws -> TemporaryDirectory {
        let root = try TemporaryDirectory(prefix: "flavour-proc")
        mkdir(root.path + "/412", 0o755)
        let fd = open(root.path + "/412/stat", O_WRONLY | O_CREAT, 0o644)
        defer { close(fd) }
        #expect(FileSystem.write(Array(stat.utf8), to: fd, at: 0) == 0)
        return root
    }
}
