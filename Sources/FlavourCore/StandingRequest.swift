/// A standing request (`request FLAVOUR SELECTOR [force] [group]` in config, or one persisted by
/// `flavourctl set --persist`): every device the selector covers gets the flavour,
/// at start-up and whenever such a device appears.
public struct StandingRequest: Hashable, Sendable {
    public let flavourName: String
    public let selector: DeviceSelector
    public let source: AliasSource
    /// `force` and `group` from the end of the line.
    public let options: RequestOptions

    public init(flavourName: String, selector: DeviceSelector, source: AliasSource, options: RequestOptions = .init()) {
        self.flavourName = flavourName
        self.selector = selector
        self.source = source
        self.options = options
    }

    public func covers(address: PCIAddress, modalias: Modalias?) -> Bool {
        selector.matches(address: address, modalias: modalias)
    }
}

/// Which devices a standing request covers: a PCI address glob (`0000:3b:00.*`) or a
/// `pci:` modalias pattern (`pci:v000015B3d0000101E*`).
public enum DeviceSelector: Hashable, Sendable, CustomStringConvertible {
    case address(String)
    case modalias(AliasPattern)

    /// Nil when the text is neither form. Address globs are compared in the kernel's
    /// lower case.
    public init?(_ text: String) {
        if text.hasPrefix("pci:") {
            guard let pattern = AliasPattern(text) else { return nil }
            self = .modalias(pattern)
            return
        }
        let allowed = Set("0123456789abcdefABCDEF:.*?[]!^-".utf8)
        guard !text.isEmpty, text.utf8.allSatisfy(allowed.contains), text.utf8.contains(UInt8(ascii: ":")) else {
            return nil
        }
        self = .address(text.lowercased())
    }

    public func matches(address: PCIAddress, modalias: Modalias?) -> Bool {
        switch self {
        case .address(let glob): Glob.matches(pattern: glob, text: address.description)
        case .modalias(let pattern): modalias.map(pattern.matches) ?? false
        }
    }

    /// Whether it needs the device's modalias (an address glob needs only the address).
    public var isModalias: Bool {
        if case .modalias = self { true } else { false }
    }

    public var description: String {
        switch self {
        case .address(let glob): glob
        case .modalias(let pattern): pattern.text
        }
    }
}
