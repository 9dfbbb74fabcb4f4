import FlavourCore
import FlavourEngine
import FlavourPOSIX
import FlavourSystem
import FlavourTestKernel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The in-use guard's probe on this machine's kernel: it only reads (stat, readdir, readlink,
/// ethtool's driver info); the O_EXCL open is tried on a node in a temporary /dev only.
@Suite struct KernelHostProbeTests {
    let probe = KernelHostProbe()

    /// An open file is known by the device it is: /dev/null is char 1:3 (devices.txt),
    /// whatever path opened it, through the process's fd link.
    @Test func anOpenFileIsKnownByItsDeviceNumber() throws {
        #expect(try probe.deviceNode(at: "/dev/null") == DeviceNumber(.char, major: 1, minor: 3))
        let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(try probe.entries(of: "/proc/self/fd").contains("\(fd)"))
        #expect(try probe.deviceNode(at: "/proc/self/fd/\(fd)") == DeviceNumber(.char, major: 1, minor: 3))
        #expect(try probe.link(at: "/proc/self/fd/\(fd)") == "/dev/null")
        #expect(try probe.deviceNode(at: "/proc/self/exe") == nil)
        #expect(throws: Errno(ENOENT)) { try probe.deviceNode(at: "/proc/self/fd/999999") }
    }

    /// A node in the /dev given must be the device asked for: a stale or foreign node (here
    /// a plain file with the name) is not opened, and says so.
    @Test func aNodeThatIsNotTheDeviceIsNotOpened() throws {
        let dev = try TemporaryDirectory(prefix: "flavour-dev")
        let file = fopen(dev.path + "/vdb", "w")
        #expect(file != nil)
        fclose(file)
        let probe = KernelHostProbe(devRoot: dev.path)
        #expect(probe.openExclusively(DeviceNumber(.block, major: 254, minor: 16), name: "vdb")
            == .failed(path: dev.path + "/vdb", errno: Errno(ENODEV)))
        #expect(probe.openExclusively(DeviceNumber(.block, major: 254, minor: 16), name: "gone")
            == .failed(path: dev.path + "/gone", errno: Errno(ENOENT)))
    }

    /// ethtool's driver info, asked on an AF_UNIX socket, agrees with sysfs for every
    /// interface of a device here; an interface that does not exist has none.
    @Test func anInterfacesDriverIsWhatSysfsSays() {
        #expect(probe.driver(ofInterface: "flavour-none0") == nil)
        #expect(probe.driver(ofInterface: String(repeating: "x", count: 20)) == nil)
        let net = Sysfs(root: "/sys/class/net")
        for name in net.list("") {
            guard let driver = net.linkName("\(name)/device/driver") else { continue }
            #expect(probe.driver(ofInterface: name) == driver, "\(name)")
        }
    }
}
