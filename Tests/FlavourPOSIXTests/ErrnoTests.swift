import FlavourPOSIX
import Glibc
import Testing

/// One rendering of errno for every error a person reads: the name the journal's ATTEMPTS
/// and flavourctl print, and strerror's text with the number.
@Suite struct ErrnoTests {
    @Test(arguments: [(ENODEV, "ENODEV"), (EINVAL, "EINVAL"), (EBUSY, "EBUSY"), (Errno.probeDefer, "EPROBE_DEFER"), (4095, "errno 4095")])
    func names(code: Int32, name: String) {
        #expect(Errno(code).name == name)
        #expect(Errno.name(code) == name)
    }

    @Test func descriptionIsStrerrorWithTheNumber() {
        #expect(Errno(ENOENT).message == "No such file or directory")
        #expect(Errno(ENOENT).description == "No such file or directory (errno 2)")
    }
}

@Suite struct SyscallTests {
    /// A call interrupted by a signal (-1 with EINTR) is made again; any other result is returned as it is.
    @Test func retriesOnlyEINTR() {
        var calls = 0
        let result = Syscall.retrying { () -> Int32 in
            calls += 1
            if calls < 3 {
                errno = EINTR
                return -1
            }
            errno = EAGAIN
            return -1
        }
        #expect(result == -1)
        #expect(calls == 3)
        #expect(errno == EAGAIN)
        #expect(Syscall.retrying { 7 } == 7)
    }
}
