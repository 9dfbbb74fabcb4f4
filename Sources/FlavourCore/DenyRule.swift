/// `deny FLAVOUR ALIAS_PATTERN MODULE`: never use MODULE for devices the pattern matches.
/// The admin's answer to "ranking by specificity can pick a variant I do not want"
/// (KERNEL-FACTS.md: virtio_vfio_pci matches every virtio-net function).
public struct DenyRule: Hashable, Sendable {
    public let flavourName: String
    public let pattern: AliasPattern
    public let module: ModuleName
    public let source: AliasSource

    public init(flavourName: String, pattern: AliasPattern, module: ModuleName, source: AliasSource) {
        self.flavourName = flavourName
        self.pattern = pattern
        self.module = module
        self.source = source
    }
}
