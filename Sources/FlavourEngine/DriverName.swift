/// A driver's name as registered with the PCI bus (`vfio-pci`), distinct from its module
/// (`vfio_pci`). Checked to be a single path component.
public struct DriverName: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init?(_ name: String) {
        guard !name.isEmpty, name.utf8.count < 256, name != ".", name != "..",
              !name.utf8.contains(UInt8(ascii: "/")), !name.utf8.contains(0),
              !name.utf8.contains(UInt8(ascii: "\n"))
        else { return nil }
        rawValue = name
    }

    public var description: String { rawValue }
}
