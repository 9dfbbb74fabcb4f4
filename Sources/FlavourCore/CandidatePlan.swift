/// The decision for one device and one flavour: which modules to try, in which order,
/// and which were left out by deny rules. Pure: made from the match table and config.
public struct CandidatePlan: Hashable, Sendable {
    public let flavour: Flavour
    public let modalias: Modalias
    /// The lookup key, e.g. `vfio_pci:v00001AF4d00001041sv...`.
    public let key: String
    /// In try order; the flavour's universal module last (unless denied).
    public let candidates: [Candidate]
    public let denied: [DeniedCandidate]

    public init(flavour: Flavour, modalias: Modalias, table: MatchTable, config: FlavourConfig) {
        self.flavour = flavour
        self.modalias = modalias
        self.key = modalias.key(prefix: flavour.keyPrefix)
        let rules = config.denies.filter { $0.flavourName == flavour.name && $0.pattern.matches(modalias) }
        func denyRule(for module: ModuleName) -> DenyRule? { rules.first { $0.module == module } }

        var candidates: [Candidate] = []
        var denied: [DeniedCandidate] = []
        var seen: Set<ModuleName> = []
        var universal: Candidate? = nil
        for entry in table.matches(prefix: flavour.keyPrefix, modalias: modalias) {
            // A flavour without an alias prefix has no kernel aliases: `pci:` ones name
            // the default drivers, which are not this flavour's to pick.
            if flavour.aliasPrefix == nil, entry.source.kind != .admin { continue }
            guard entry.serves(flavour) else { continue }
            guard seen.insert(entry.module).inserted else { continue }  // a module's best alias only
            let candidate = Candidate(entry: entry, isUniversal: entry.module == flavour.universalModule)
            if let rule = denyRule(for: entry.module) {
                denied.append(DeniedCandidate(candidate: candidate, rule: rule))
            } else if candidate.isUniversal {
                universal = candidate
            } else {
                candidates.append(candidate)
            }
        }
        // The universal driver is always the final fallback, alias or not.
        if !seen.contains(flavour.universalModule) {
            let fallback = Candidate(
                module: flavour.universalModule, alias: nil, wildcards: nil,
                source: flavour.source, isUniversal: true)
            if let rule = denyRule(for: flavour.universalModule) {
                denied.append(DeniedCandidate(candidate: fallback, rule: rule))
            } else {
                universal = fallback
            }
        }
        if let universal { candidates.append(universal) }
        self.candidates = candidates
        self.denied = denied
    }
}

/// A module to try, with the alias that made it a candidate.
public struct Candidate: Hashable, Sendable {
    public let module: ModuleName
    /// The matching alias pattern; nil for a universal module that no alias named.
    public let alias: String?
    public let wildcards: Int?
    public let source: AliasSource
    public let isUniversal: Bool

    public init(module: ModuleName, alias: String?, wildcards: Int?, source: AliasSource, isUniversal: Bool) {
        self.module = module
        self.alias = alias
        self.wildcards = wildcards
        self.source = source
        self.isUniversal = isUniversal
    }

    init(entry: AliasEntry, isUniversal: Bool) {
        self.init(
            module: entry.module, alias: entry.pattern.text, wildcards: entry.pattern.wildcards,
            source: entry.source, isUniversal: isUniversal)
    }
}

/// A candidate a deny rule removed, and the rule.
public struct DeniedCandidate: Hashable, Sendable {
    public let candidate: Candidate
    public let rule: DenyRule
}
