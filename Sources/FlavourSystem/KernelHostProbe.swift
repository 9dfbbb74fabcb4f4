import FlavourCore
import FlavourEngine
import FlavourPOSIX
import FlavourPlatform

#if canImport(Glibc)
import Glibc
#endif

/// The in-use guard's probe on the running kernel: opendir, stat, an O_EXCL open, and
/// ethtool's driver info (`Ethtool`).
public struct KernelHostProbe: HostProbe {
    /// Where the device nodes are (`DEVNAME` is relative to it).
    public let devRoot: String

    public init(devRoot: String = DefaultPaths.devRoot) {
        self.devRoot = devRoot
    }

    public func entries(of directory: String) throws(Errno) -> [String] {
        try FileSystem.entries(directory)
    }

    public func link(at path: String) throws(Errno) -> String {
        try withUnsafeTemporaryAllocation(of: CChar.self, capacity: 4096) { buffer throws(Errno) -> String in
            let count = readlink(path, buffer.baseAddress!, buffer.count)
            guard count > 0 else { throw Errno.current }
            return String(decoding: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<count]), as: UTF8.self)
        }
    }

    public func deviceNode(at path: String) throws(Errno) -> DeviceNumber? {
        var info = stat()
        guard Syscall.retrying({ stat(path, &info) }) == 0 else { throw Errno.current }
        return Self.number(info)
    }

    public func openExclusively(_ number: DeviceNumber, name: String) -> ExclusiveOpen {
        let path = devRoot + "/" + name
        // The node must be that device: a private /dev, or a stale node, could hold another.
        var info = stat()
        guard stat(path, &info) == 0 else { return .failed(path: path, errno: Errno.current) }
        guard Self.number(info) == number else { return .failed(path: path, errno: Errno(ENODEV)) }
        // Read-only: no change uevent on close (udev watches IN_CLOSE_WRITE).
        let fd = Syscall.retrying { open(path, O_RDONLY | O_EXCL | O_CLOEXEC | O_NONBLOCK) }
        guard fd >= 0 else {
            let error = Errno.current
            switch error.rawValue {
            case EBUSY: return .busy
            case ENOMEDIUM: return .noMedium
            default: return .failed(path: path, errno: error)
            }
        }
        close(fd)
        return .free
    }

    public func driver(ofInterface name: String) -> String? {
        Ethtool.driver(ofInterface: name)
    }

    /// A char or block device's number from stat(2); nil for other files.
    static func number(_ info: stat) -> DeviceNumber? {
        let kind: DeviceNumber.Kind
        switch info.st_mode & S_IFMT {
        case S_IFCHR: kind = .char
        case S_IFBLK: kind = .block
        default: return nil
        }
        // gnu_dev_major/minor (sys/sysmacros.h), written out: the macros are not imported.
        let rdev = UInt64(info.st_rdev)
        let major = UInt32(truncatingIfNeeded: rdev >> 8) & 0xFFF | UInt32(truncatingIfNeeded: rdev >> 32) & ~0xFFF
        let minor = UInt32(truncatingIfNeeded: rdev) & 0xFF | UInt32(truncatingIfNeeded: rdev >> 12) & ~0xFF
        return DeviceNumber(kind, major: major, minor: minor)
    }
}
