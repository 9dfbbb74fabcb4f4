/// A device node's number as the kernel hands it out: a char or block device, major and
/// minor. sysfs shows it as a device's `dev` attribute (`254:16`, `drivers/base/core.c`,
/// dev_show, `print_dev_t`), and stat(2) of an open file gives it as `st_rdev`. Device
/// nodes are compared by it, never by path: a path names a node in someone's `/dev`
/// (a container's, a service's private one), the number names the device.
public struct DeviceNumber: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        case char
        case block
    }

    public let kind: Kind
    public let major: UInt32
    public let minor: UInt32

    public init(_ kind: Kind, major: UInt32, minor: UInt32) {
        self.kind = kind
        self.major = major
        self.minor = minor
    }

    /// A `dev` attribute's text, `MAJOR:MINOR` in decimal; nil for anything else.
    public init?(_ kind: Kind, dev text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = Self.number(parts[0]), let minor = Self.number(parts[1]) else { return nil }
        self.init(kind, major: major, minor: minor)
    }

    /// `MAJOR:MINOR`, as `dev` and /proc/self/mountinfo print it.
    public var description: String { "\(major):\(minor)" }

    /// Decimal digits only, as `%u` prints them (majors are 12 bits, minors 20).
    private static func number(_ text: some StringProtocol) -> UInt32? {
        guard !text.isEmpty, text.count <= 7, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return nil
        }
        return UInt32(text)
    }
}
