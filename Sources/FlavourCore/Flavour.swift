/// A flavour: what `echo vfio > driver_flavour` asks for. It names the alias prefix
/// under which variant drivers are looked up and the universal module that is always
/// the last resort (KERNEL-FACTS.md: "vfio_pci is a universal driver").
public struct Flavour: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    /// The alias prefix, e.g. `vfio_pci`; nil for a flavour without kernel aliases, whose
    /// admin variants then match the plain `pci:` modalias.
    public let aliasPrefix: String?
    public let universalModule: ModuleName
    public let source: AliasSource

    public init(name: String, aliasPrefix: String?, universalModule: ModuleName, source: AliasSource) {
        self.name = name
        self.aliasPrefix = aliasPrefix
        self.universalModule = universalModule
        self.source = source
    }

    /// The prefix of the keys this flavour looks up: its alias prefix, or `pci`.
    public var keyPrefix: String { aliasPrefix ?? "pci" }

    public var description: String { name }

    /// `vfio`: prefix `vfio_pci`, universal module `vfio_pci`.
    public static let vfio = Flavour(
        name: "vfio", aliasPrefix: "vfio_pci", universalModule: ModuleName("vfio_pci")!,
        source: AliasSource(kind: .flavourDefinition, file: "built in", line: 0))

    /// The value that means "back to the kernel's default driver".
    public static let revertName = "none"

    /// Whether `name` is a well-formed flavour name: 1 to 32 of `a-z 0-9 _ -`, the same
    /// rule the driver_flavour kernel attribute enforces.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return (1...32).contains(bytes.count) && bytes.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }
}
