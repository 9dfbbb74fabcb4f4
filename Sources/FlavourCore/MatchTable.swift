/// The match table: every alias entry from the admin's rules and the kernel's alias
/// files, indexed by prefix and vendor so that a lookup touches only the entries that
/// can match (KERNEL-FACTS.md: existing tools re-read modules.alias for every device).
/// Built once; re-built on reload, never per device.
public struct MatchTable: Sendable {
    public private(set) var entries: [AliasEntry] = []
    private var prefixes: [String: PrefixIndex] = [:]

    public init(entries: some Sequence<AliasEntry> = []) {
        for entry in entries { insert(entry) }
    }

    public mutating func insert(_ entry: AliasEntry) {
        let position = entries.count
        entries.append(entry)
        prefixes[entry.pattern.prefix, default: PrefixIndex()].add(entry.pattern, at: position)
    }

    public var count: Int { entries.count }

    /// Every entry under `prefix` whose pattern matches the device, in try order
    /// (`AliasEntry.tryOrder`).
    public func matches(prefix: String, modalias: Modalias) -> [AliasEntry] {
        guard let index = prefixes[prefix] else { return [] }
        var found: [AliasEntry] = []
        index.forEachCandidate(vendor: modalias.vendor) { position in
            let entry = entries[position]
            if entry.pattern.matches(modalias) { found.append(entry) }
        }
        found.sort(by: AliasEntry.tryOrder)
        return found
    }
}

/// Entries of one prefix, split by the vendor field so a lookup skips other vendors.
private struct PrefixIndex: Sendable {
    var byVendor: [UInt32: [Int]] = [:]
    /// Patterns whose vendor is `*` (class matches, the universal driver).
    var anyVendor: [Int] = []
    /// Patterns that are not of the fixed PCI shape: matched by glob.
    var other: [Int] = []

    mutating func add(_ pattern: AliasPattern, at position: Int) {
        guard let fields = pattern.fields else { other.append(position); return }
        if let vendor = fields.vendor {
            byVendor[vendor, default: []].append(position)
        } else {
            anyVendor.append(position)
        }
    }

    func forEachCandidate(vendor: UInt32, _ body: (Int) -> Void) {
        if let list = byVendor[vendor] { list.forEach(body) }
        anyVendor.forEach(body)
        other.forEach(body)
    }
}
