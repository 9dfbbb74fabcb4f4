/// A module alias pattern such as `vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*`: a literal
/// prefix, a colon, and a glob over the device's modalias body.
///
/// Patterns that `scripts/mod/file2alias.c` (`do_pci_entry`) writes have a fixed shape:
/// each of the seven fields is either exact upper-case hex or `*`, optionally followed by
/// one `*`. For those the match is done field by field on integers (the same answer as
/// fnmatch on a key of the kernel's shape, far faster); anything else falls back to
/// `Glob`.
public struct AliasPattern: Hashable, Sendable, CustomStringConvertible {
    /// The whole pattern, prefix included.
    public let text: String
    /// The part before the first `:`, e.g. `vfio_pci` or `pci`.
    public let prefix: String
    /// The number of wildcard elements in the whole pattern.
    public let wildcards: Int
    let body: [UInt8]
    let fields: PCIFieldPattern?

    /// Nil when the text has no `:` or its prefix is not a literal word.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0,
              bytes[..<colon].allSatisfy(Self.isPrefixByte)
        else { return nil }
        self.text = text
        self.prefix = String(decoding: bytes[..<colon], as: UTF8.self)
        self.body = Array(bytes[(colon + 1)...])
        self.wildcards = Glob.wildcardCount(bytes)
        self.fields = PCIFieldPattern(body: body[...])
    }

    public var description: String { text }

    /// True when this pattern matches the device under this pattern's own prefix.
    public func matches(_ modalias: Modalias) -> Bool {
        if let fields { return fields.matches(modalias) }
        return Glob.matches(pattern: body, text: Array(modalias.body.utf8))
    }

    /// True when this pattern matches a full key `prefix:body`.
    public func matches(key: String) -> Bool {
        Glob.matches(pattern: Array(text.utf8), text: Array(key.utf8))
    }

    static func isPrefixByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }
}

/// The fixed-shape form of a PCI alias body: each field exact or any.
struct PCIFieldPattern: Hashable, Sendable {
    var vendor: UInt32?
    var device: UInt32?
    var subsystemVendor: UInt32?
    var subsystemDevice: UInt32?
    var baseClass: UInt32?
    var subClass: UInt32?
    var interface: UInt32?

    init?(body: ArraySlice<UInt8>) {
        var cursor = body.startIndex
        // One field: its tag, then `*` or exactly `digits` upper-case hex digits.
        func field(_ tag: StaticString, digits: Int) -> UInt32?? {
            let tagBytes = UnsafeBufferPointer(start: tag.utf8Start, count: tag.utf8CodeUnitCount)
            guard body[cursor...].starts(with: tagBytes) else { return .none }
            cursor += tagBytes.count
            if cursor < body.endIndex, body[cursor] == UInt8(ascii: "*") {
                cursor += 1
                return .some(nil)
            }
            let end = cursor + digits
            guard end <= body.endIndex,
                  body[cursor..<end].allSatisfy({ Self.isUpperHex($0) }),
                  let value = Hex.parse(body[cursor..<end])
            else { return .none }
            cursor = end
            return .some(value)
        }
        guard let v = field("v", digits: 8), let d = field("d", digits: 8),
              let sv = field("sv", digits: 8), let sd = field("sd", digits: 8),
              let bc = field("bc", digits: 2), let sc = field("sc", digits: 2),
              let i = field("i", digits: 2)
        else { return nil }
        // file2alias appends one `*` when the last field is exact.
        if cursor < body.endIndex, body[cursor] == UInt8(ascii: "*") { cursor += 1 }
        guard cursor == body.endIndex else { return nil }
        (vendor, device, subsystemVendor, subsystemDevice) = (v, d, sv, sd)
        (baseClass, subClass, interface) = (bc, sc, i)
    }

    static func isUpperHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }

    @inline(__always)
    func matches(_ m: Modalias) -> Bool {
        (vendor == nil || vendor == m.vendor) && (device == nil || device == m.device)
            && (subsystemVendor == nil || subsystemVendor == m.subsystemVendor)
            && (subsystemDevice == nil || subsystemDevice == m.subsystemDevice)
            && (baseClass == nil || baseClass == UInt32(m.baseClass))
            && (subClass == nil || subClass == UInt32(m.subClass))
            && (interface == nil || interface == UInt32(m.interface))
    }
}
