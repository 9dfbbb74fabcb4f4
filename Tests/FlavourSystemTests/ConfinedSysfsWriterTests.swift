import FlavourSystem
import FlavourTestKernel
import FlavourEngine
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// flavourd's sysfs writes never follow a link out of the sysfs root, whatever the tree
/// given as root holds. Everything here is a temporary directory, never /sys.
@Suite struct ConfinedSysfsWriterTests {
    let directory: TemporaryDirectory
    var base: String { directory.path }
    var root: String { base + "/sys" }

    init() throws {
        directory = try TemporaryDirectory(prefix: "flavour-confined")
        for directory in ["/sys", "/sys/devices", "/sys/devices/pci0000:00", "/sys/devices/pci0000:00/0000:00:03.0", "/sys/bus",
                          "/sys/bus/pci", "/sys/bus/pci/devices", "/outside"] {
            mkdir(base + directory, 0o755)
        }
        try Self.write(root + "/devices/pci0000:00/0000:00:03.0/driver_override", "(null)\n")
        try Self.write(base + "/outside/driver_override", "untouched")
        // As sysfs has it: bus/pci/devices/X -> ../../../devices/pci0000:00/X.
        symlink("../../../devices/pci0000:00/0000:00:03.0", root + "/bus/pci/devices/0000:00:03.0")
    }

    static func write(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(fd >= 0)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
    }

    static func read(_ path: String) -> String {
        (try? Sysfs(root: "/").read(String(path.dropFirst()))) ?? "<unreadable>"
    }

    @Test func writesThroughTheRootsOwnLinksWithoutANewline() throws {
        try ConfinedSysfsWriter(root: root).write("vfio-pci", to: root + "/bus/pci/devices/0000:00:03.0/driver_override")
        #expect(Self.read(root + "/devices/pci0000:00/0000:00:03.0/driver_override") == "vfio-pci")
    }

    @Test(arguments: ["../../../../outside", "/OUTSIDE"])
    func aLinkOutOfTheRootIsRefusedWithEXDEV(target: String) throws {
        let link = root + "/bus/pci/devices/0000:00:09.0"
        #expect(symlink(target == "/OUTSIDE" ? base + "/outside" : target, link) == 0)
        let error = try #require(throws: SysfsError.self) {
            try ConfinedSysfsWriter(root: root).write("vfio-pci", to: link + "/driver_override")
        }
        #expect(error.errno == EXDEV)
        #expect(error.description.contains("0000:00:09.0/driver_override"))
        #expect(Self.read(base + "/outside/driver_override") == "untouched")
    }

    @Test func aLinkAsTheAttributeItselfIsRefused() throws {
        #expect(symlink("../../../../outside/driver_override", root + "/devices/pci0000:00/0000:00:03.0/new_id") == 0)
        let error = try #require(throws: SysfsError.self) {
            try ConfinedSysfsWriter(root: root).write("8086 10d3", to: root + "/bus/pci/devices/0000:00:03.0/new_id")
        }
        #expect(error.errno == ELOOP || error.errno == EXDEV)
        #expect(Self.read(base + "/outside/driver_override") == "untouched")
    }

    @Test func aValueOfAPageOrMoreIsRefusedBeforeAnyOpen() throws {
        let error = try #require(throws: SysfsError.self) {
            try ConfinedSysfsWriter(root: root).write(String(repeating: "x", count: 4096), to: root + "/bus/pci/devices/0000:00:03.0/driver_override")
        }
        #expect(error.errno == E2BIG)
    }
}
