/// A PCI device's modalias as `drivers/pci/pci-sysfs.c` (`modalias_show`) prints it:
/// `pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X`.
public struct Modalias: Hashable, Sendable, CustomStringConvertible {
    public let vendor: UInt32
    public let device: UInt32
    public let subsystemVendor: UInt32
    public let subsystemDevice: UInt32
    public let baseClass: UInt8
    public let subClass: UInt8
    public let interface: UInt8

    public init(
        vendor: UInt32, device: UInt32, subsystemVendor: UInt32, subsystemDevice: UInt32,
        baseClass: UInt8, subClass: UInt8, interface: UInt8
    ) {
        self.vendor = vendor
        self.device = device
        self.subsystemVendor = subsystemVendor
        self.subsystemDevice = subsystemDevice
        self.baseClass = baseClass
        self.subClass = subClass
        self.interface = interface
    }

    /// Parses the text of a device's `modalias` attribute (one trailing newline allowed).
    public init(parsing text: String) throws(ModaliasError) {
        var bytes = Array(text.utf8)
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        let prefix = Array("pci:".utf8)
        guard bytes.starts(with: prefix), let fields = Self.parseBody(bytes[prefix.count...]) else {
            throw ModaliasError(input: text)
        }
        self = fields
    }

    /// Parses the part after `pci:`; nil when it is not exactly the kernel's shape.
    static func parseBody(_ body: ArraySlice<UInt8>) -> Modalias? {
        var cursor = body.startIndex
        func field(_ tag: String, digits: Int) -> UInt32? {
            let tagBytes = Array(tag.utf8)
            guard body[cursor...].starts(with: tagBytes) else { return nil }
            let start = cursor + tagBytes.count
            let end = start + digits
            guard end <= body.endIndex, let value = Hex.parse(body[start..<end]) else { return nil }
            cursor = end
            return value
        }
        guard let vendor = field("v", digits: 8), let device = field("d", digits: 8),
              let subVendor = field("sv", digits: 8), let subDevice = field("sd", digits: 8),
              let baseClass = field("bc", digits: 2), let subClass = field("sc", digits: 2),
              let interface = field("i", digits: 2), cursor == body.endIndex
        else { return nil }
        return Modalias(
            vendor: vendor, device: device, subsystemVendor: subVendor, subsystemDevice: subDevice,
            baseClass: UInt8(baseClass), subClass: UInt8(subClass), interface: UInt8(interface))
    }

    /// The part after `pci:`, e.g. `v00001AF4d00001041sv00001AF4sd00001041bc02sc00i00`.
    public var body: String { key(prefix: nil) }

    /// The lookup key under an alias prefix: `vfio_pci:` + body for the vfio flavour
    /// (the "prefix the modalias with vfio_" rule of the override_only commit).
    public func key(prefix: String) -> String { key(prefix: Optional(prefix)) }

    /// `pci:` + body, exactly as sysfs prints it.
    public var description: String { key(prefix: "pci") }

    /// Built byte by byte: made for every request (the lookup key, the log's MODALIAS).
    private func key(prefix: String?) -> String {
        let head = prefix.map { Array($0.utf8) + [UInt8(ascii: ":")] } ?? []
        return String(unsafeUninitializedCapacity: head.count + Self.bodyLength) { buffer in
            var index = 0
            for byte in head {
                buffer[index] = byte
                index += 1
            }
            Hex.put("v", into: buffer, at: &index)
            Hex.put(vendor, digits: 8, uppercase: true, into: buffer, at: &index)
            Hex.put("d", into: buffer, at: &index)
            Hex.put(device, digits: 8, uppercase: true, into: buffer, at: &index)
            Hex.put("sv", into: buffer, at: &index)
            Hex.put(subsystemVendor, digits: 8, uppercase: true, into: buffer, at: &index)
            Hex.put("sd", into: buffer, at: &index)
            Hex.put(subsystemDevice, digits: 8, uppercase: true, into: buffer, at: &index)
            Hex.put("bc", into: buffer, at: &index)
            Hex.put(UInt32(baseClass), digits: 2, uppercase: true, into: buffer, at: &index)
            Hex.put("sc", into: buffer, at: &index)
            Hex.put(UInt32(subClass), digits: 2, uppercase: true, into: buffer, at: &index)
            Hex.put("i", into: buffer, at: &index)
            Hex.put(UInt32(interface), digits: 2, uppercase: true, into: buffer, at: &index)
            return index
        }
    }

    /// `v` 8 `d` 8 `sv` 8 `sd` 8 `bc` 2 `sc` 2 `i` 2.
    static let bodyLength = 1 + 8 + 1 + 8 + 2 + 8 + 2 + 8 + 2 + 2 + 2 + 2 + 1 + 2

    /// `vvvv:dddd`, as lspci -n prints ids.
    public var pciID: String {
        Hex.format(vendor, width: 4) + ":" + Hex.format(device, width: 4)
    }
}

public struct ModaliasError: Error, Equatable, Sendable, CustomStringConvertible {
    public let input: String
    public var description: String {
        "'\(input)' is not a PCI modalias: expected pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X"
    }
}
