/// A PCI function address as the kernel names it in `/sys/bus/pci/devices`:
/// `DDDD:BB:DD.F` (`drivers/pci/probe.c`, `pci_setup_device`: "%04x:%02x:%02x.%d").
///
/// Parsing is strict on purpose: the address becomes a path component, so anything
/// that is not exactly this shape (a `/`, `..`, spaces, a missing field) is refused
/// before any path is built from it.
public struct PCIAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let domain: UInt32
    public let bus: UInt8
    public let device: UInt8
    public let function: UInt8

    public init(domain: UInt32 = 0, bus: UInt8, device: UInt8, function: UInt8) {
        precondition(device < 32 && function < 8, "PCI device must be < 32 and function < 8")
        self.domain = domain
        self.bus = bus
        self.device = device
        self.function = function
    }

    /// Parses `DDDD:BB:DD.F`. The domain has 4 to 8 hex digits (VMD domains print 5);
    /// hex digits may be upper or lower case; the result prints in the kernel's lower case.
    public init(parsing text: String) throws(PCIAddressError) {
        let bytes = Array(text.utf8)
        guard let firstColon = bytes.firstIndex(of: UInt8(ascii: ":")) else {
            throw PCIAddressError(input: text)
        }
        let domainDigits = firstColon
        guard (4...8).contains(domainDigits), bytes.count == domainDigits + 8,
              bytes[domainDigits + 3] == UInt8(ascii: ":"),
              bytes[domainDigits + 6] == UInt8(ascii: ".")
        else { throw PCIAddressError(input: text) }
        guard let domain = Hex.parse(bytes[0..<domainDigits]),
              let bus = Hex.parse(bytes[(domainDigits + 1)..<(domainDigits + 3)]),
              let device = Hex.parse(bytes[(domainDigits + 4)..<(domainDigits + 6)]),
              let function = Hex.parse(bytes[(domainDigits + 7)..<(domainDigits + 8)]),
              device < 32, function < 8
        else { throw PCIAddressError(input: text) }
        self.init(domain: domain, bus: UInt8(bus), device: UInt8(device), function: UInt8(function))
    }

    /// The kernel's spelling, e.g. `0000:03:00.0`. Built byte by byte: it is made for every
    /// sysfs path of every bind, and a small string of ASCII needs no formatter.
    public var description: String {
        let domainDigits = domain > 0xFFFF ? (32 - domain.leadingZeroBitCount + 3) / 4 : 4
        return String(unsafeUninitializedCapacity: domainDigits + 8) { buffer in
            var index = 0
            Hex.put(domain, digits: domainDigits, uppercase: false, into: buffer, at: &index)
            Hex.put(":", into: buffer, at: &index)
            Hex.put(UInt32(bus), digits: 2, uppercase: false, into: buffer, at: &index)
            Hex.put(":", into: buffer, at: &index)
            Hex.put(UInt32(device), digits: 2, uppercase: false, into: buffer, at: &index)
            Hex.put(".", into: buffer, at: &index)
            Hex.put(UInt32(function), digits: 1, uppercase: false, into: buffer, at: &index)
            return index
        }
    }

    public static func < (lhs: PCIAddress, rhs: PCIAddress) -> Bool {
        (lhs.domain, lhs.bus, lhs.device, lhs.function) < (rhs.domain, rhs.bus, rhs.device, rhs.function)
    }
}

/// An input that is not a PCI address of the form `DDDD:BB:DD.F`.
public struct PCIAddressError: Error, Equatable, Sendable, CustomStringConvertible {
    public let input: String
    public var description: String {
        "'\(input.debugDescription.dropFirst().dropLast())' is not a PCI address: expected DDDD:BB:DD.F, for example 0000:03:00.0 (see lspci -D)"
    }
}
