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
        index.forEachMatch(modalias) { found.append(entries[$0]) }
        for position in index.other where entries[position].pattern.matches(modalias) {
            found.append(entries[position])
        }
        found.sort(by: AliasEntry.tryOrder)
        return found
    }
}

/// Entries of one prefix, split by vendor and device so a lookup visits only the few
/// entries that can match: a real modules.alias has 3,161 `pci:` lines for vendor 8086
/// alone, so a vendor-only split still visited ~1,300 entries per key.
/// Buckets hold the fixed-shape fields inline (plain integers, no reference counting),
/// so rejecting a candidate never copies its `AliasEntry`.
private struct PrefixIndex: Sendable {
    /// Exact vendor and exact device, keyed by `vendor << 32 | device`.
    var byDevice: [UInt64: [Candidate]] = [:]
    /// Exact vendor, any device.
    var byVendor: [UInt32: [Candidate]] = [:]
    /// Patterns whose vendor is `*` (class matches, the universal driver).
    var anyVendor: [Candidate] = []
    /// Patterns that are not of the fixed PCI shape: matched by glob.
    var other: [Int] = []

    struct Candidate: Sendable {
        let position: Int
        let fields: PCIFieldPattern
    }

    mutating func add(_ pattern: AliasPattern, at position: Int) {
        guard let fields = pattern.fields else { other.append(position); return }
        let candidate = Candidate(position: position, fields: fields)
        switch (fields.vendor, fields.device) {
        case let (vendor?, device?): byDevice[Self.key(vendor, device), default: []].append(candidate)
        case let (vendor?, nil): byVendor[vendor, default: []].append(candidate)
        default: anyVendor.append(candidate)
        }
    }

    /// Calls `body` with the position of every fixed-shape entry that matches the device;
    /// `other` is left to the caller's glob.
    func forEachMatch(_ modalias: Modalias, _ body: (Int) -> Void) {
        func visit(_ list: [Candidate]) {
            for candidate in list where candidate.fields.matches(modalias) { body(candidate.position) }
        }
        if let list = byDevice[Self.key(modalias.vendor, modalias.device)] { visit(list) }
        if let list = byVendor[modalias.vendor] { visit(list) }
        visit(anyVendor)
    }

    static func key(_ vendor: UInt32, _ device: UInt32) -> UInt64 { UInt64(vendor) << 32 | UInt64(device) }
}
