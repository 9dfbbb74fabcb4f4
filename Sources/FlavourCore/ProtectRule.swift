/// A `protect SELECTOR` line: devices driver-flavour never moves, whatever a request says,
/// `force` or `--force` included (driver-flavour.conf(5)). For hosts whose management NIC
/// must stay where it is even when a broad standing request covers it at boot, before its
/// network has an address the in-use guard could see.
public struct ProtectRule: Hashable, Sendable, CustomStringConvertible {
    public let selector: ProtectSelector
    public let source: AliasSource

    public init(selector: ProtectSelector, source: AliasSource) {
        self.selector = selector
        self.source = source
    }

    /// `protect 52:54:00:12:34:56 (/etc/driver-flavour.d/50-site.conf:3)`.
    public var description: String { "protect \(selector) (\(source.file):\(source.line))" }
}

/// Which devices a `protect` line names: those a standing request's selector would (an
/// address glob, a `pci:` modalias pattern), or the device whose network interface has this
/// name or this MAC address.
public enum ProtectSelector: Hashable, Sendable, CustomStringConvertible {
    case device(DeviceSelector)
    /// An interface name (`eno1`), as the kernel allows them (`net/core/dev.c`,
    /// dev_valid_name): 1 to 15 bytes, not `.` or `..`, no `/`, `:` or white space.
    case interface(String)
    /// A MAC address, six pairs of hex digits joined by `:`, kept in lower case as sysfs
    /// shows `address`.
    case mac(String)

    /// Nil when the text is none of these. A MAC (`52:54:00:12:34:56`) is read as one
    /// before it is tried as an address glob, which it could never match (a PCI address
    /// has a `.`); an interface name has no `:`, an address glob always one.
    public init?(_ text: String) {
        if let mac = Self.mac(text) {
            self = .mac(mac)
        } else if text.hasPrefix("pci:") || text.contains(":") {
            // A literal address must be one: a MAC with a pair missing would otherwise be an
            // address glob that matches nothing, and protect nothing.
            let literal = !text.hasPrefix("pci:") && !text.contains(where: { "*?[".contains($0) })
            guard let selector = DeviceSelector(text), !literal || (try? PCIAddress(parsing: text)) != nil else { return nil }
            self = .device(selector)
        } else if Self.isInterfaceName(text) {
            self = .interface(text)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .device(let selector): selector.description
        case .interface(let name): name
        case .mac(let mac): mac
        }
    }

    /// Whether the rule needs the device's network interfaces to decide.
    public var namesInterface: Bool {
        if case .device = self { return false }
        return true
    }

    /// Whether it names this device: by address or modalias, or by one of its interfaces
    /// (`interfaces`: name and MAC address of each, as sysfs shows them).
    public func matches(address: PCIAddress, modalias: Modalias?, interfaces: [(name: String, mac: String?)]) -> Bool {
        switch self {
        case .device(let selector): selector.matches(address: address, modalias: modalias)
        case .interface(let name): interfaces.contains { $0.name == name }
        case .mac(let mac): interfaces.contains { $0.mac?.lowercased() == mac }
        }
    }

    static func mac(_ text: String) -> String? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isHexDigit) }) else { return nil }
        return text.lowercased()
    }

    static func isInterfaceName(_ text: String) -> Bool {
        let bytes = text.utf8
        guard (1...15).contains(bytes.count), text != ".", text != ".." else { return false }
        return bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ":") }
    }
}
