/// One line of the match table: an alias pattern, the module it names, and where it came from.
public struct AliasEntry: Hashable, Sendable {
    public let pattern: AliasPattern
    public let module: ModuleName
    public let source: AliasSource
    /// The flavour an admin's `variant` line names; nil for the kernel's aliases, which
    /// serve every flavour with their prefix. Two flavours may share a prefix (or have
    /// none): a variant is only its own flavour's.
    public let flavourName: String?

    public init(pattern: AliasPattern, module: ModuleName, source: AliasSource, flavourName: String? = nil) {
        self.pattern = pattern
        self.module = module
        self.source = source
        self.flavourName = flavourName
    }

    /// Whether this entry may be a candidate for `flavour`.
    public func serves(_ flavour: Flavour) -> Bool { flavourName.map { $0 == flavour.name } ?? true }

    /// The try order: fewest wildcards first; at equal specificity admin rules before the
    /// kernel's aliases, then file order (depmod writes modules.alias in modules.order).
    static func tryOrder(_ a: AliasEntry, _ b: AliasEntry) -> Bool {
        (a.pattern.wildcards, a.source.kind, a.source.sequence) < (b.pattern.wildcards, b.source.kind, b.source.sequence)
    }
}

/// Where a match-table entry or a config directive was read: file and line, and its rank.
public struct AliasSource: Hashable, Sendable, CustomStringConvertible {
    /// Authority, highest first.
    public enum Kind: Int, Comparable, Sendable, CustomStringConvertible {
        case admin = 0
        case modulesAlias = 1
        case builtinAlias = 2
        case flavourDefinition = 3

        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
        public var description: String {
            switch self {
            case .admin: "admin"
            case .modulesAlias: "modules.alias"
            case .builtinAlias: "modules.builtin.alias.bin"
            case .flavourDefinition: "flavour"
            }
        }
    }

    public let kind: Kind
    public let file: String
    /// 1-based line in a text file; position in a binary index.
    public let line: Int
    /// Global position within its kind, for stable file order across several files.
    public let sequence: Int

    public init(kind: Kind, file: String, line: Int, sequence: Int? = nil) {
        self.kind = kind
        self.file = file
        self.line = line
        self.sequence = sequence ?? line
    }

    public var description: String {
        kind == .builtinAlias ? "\(file)#\(line)" : "\(file):\(line)"
    }
}
