/// A kernel module name, normalised as kmod does: `-` becomes `_`
/// (`libkmod/libkmod-util.c`, `modname_normalize`). `vfio-pci` and `vfio_pci` are the
/// same module. The module name is not the driver name: module `vfio_pci` registers
/// driver `vfio-pci` (KERNEL-FACTS.md); the driver name is learnt from sysfs.
public struct ModuleName: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Nil unless the name is 1 to 55 characters (MODULE_NAME_LEN - 1) of letters, digits, `_` and `-`.
    public init?(_ name: String) {
        let bytes = Array(name.utf8)
        guard (1...55).contains(bytes.count), bytes.allSatisfy(AliasPattern.isPrefixByte) else { return nil }
        rawValue = String(decoding: bytes.map { $0 == UInt8(ascii: "-") ? UInt8(ascii: "_") : $0 }, as: UTF8.self)
    }

    public var description: String { rawValue }
    public static func < (lhs: ModuleName, rhs: ModuleName) -> Bool { lhs.rawValue < rhs.rawValue }
}
