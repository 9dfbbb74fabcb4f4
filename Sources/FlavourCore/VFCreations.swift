/// The VFs PFs are still creating, and the binds held until they are done.
///
/// A write to a PF's `sriov_numvfs` adds its VFs one by one, and only once the last is added
/// does the kernel send the PF a `change` uevent (`drivers/pci/iov.c`, sriov_enable). A bind
/// made meanwhile competes with the creation: for the CPU (each bind makes a `/dev/vfio` group,
/// with its udev rules and systemd's device unit), and, at the start of a VF's life, with the
/// PCI core still adding it. So the requests standing requests make for new VFs are held while
/// any PF heard creating VFs has not finished, and go together once none is:
///
/// - a creation ends with its PF's `change` (or `remove`), or `quiet` after its last VF was
///   heard without one (a VF rescanned alone; a lost event);
/// - the held requests go `settle` after the last creation ended, unless another PF starts
///   creating first (a script writing several PFs' `sriov_numvfs` in a row);
/// - no request is held longer than `limit`, whatever creations go on;
/// - a device heard while still being added, whose PF is not known yet (a VF's `physfn` link
///   comes after its `add`, `pci_iov_add_virtfn`), is held with the rest, and counts as a
///   creation that ended at its `add`.
///
/// Pure: the caller says what it heard and when, and asks what may go.
public struct VFCreations<Held> {
    public typealias Timing = VFCreationTiming
    public typealias Instant = ContinuousClock.Instant

    /// What the release hands back: the held requests, with their PFs, how long the first of
    /// them waited, and whether every creation was done (false: they waited `limit`).
    public struct Release {
        public let held: [Held]
        public let physicalFunctions: [PCIAddress]
        public let waited: Duration
        public let creationsDone: Bool
    }

    private struct Creation {
        var lastAdd: Instant
        var ended: Instant?
        func end(quiet: Duration) -> Instant { ended ?? lastAdd + quiet }
    }

    private struct Entry {
        let vf: PCIAddress
        /// nil: not known yet.
        let pf: PCIAddress?
        let since: Instant
        let held: Held
    }

    public let timing: Timing
    private var creations: [PCIAddress: Creation] = [:]
    private var entries: [Entry] = []

    public init(timing: Timing = Timing()) {
        self.timing = timing
    }

    /// How many requests are held.
    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// The PFs heard creating VFs now, in order.
    public func creating(at now: Instant) -> [PCIAddress] {
        creations.keys.filter { isCreating($0, at: now) }.sorted()
    }

    /// Whether the PF is heard creating VFs now.
    public func isCreating(_ pf: PCIAddress, at now: Instant) -> Bool {
        guard let creation = creations[pf] else { return false }
        return creation.end(quiet: timing.quiet) > now
    }

    /// A VF of `pf` (nil: a device still being added, its PF not known yet) was added, and a
    /// standing request covers it: its request waits. A VF held already keeps its place and
    /// gets the newer request.
    public mutating func hold(_ held: Held, vf: PCIAddress, pf: PCIAddress?, at now: Instant) {
        if let pf { creations[pf] = Creation(lastAdd: now, ended: nil) }
        if let index = entries.firstIndex(where: { $0.vf == vf }) {
            entries[index] = Entry(vf: vf, pf: pf, since: entries[index].since, held: held)
        } else {
            entries.append(Entry(vf: vf, pf: pf, since: now, held: held))
        }
    }

    /// The PF's `change` (its creation is done) or its `remove`. A no-op for a PF not creating.
    public mutating func ended(_ pf: PCIAddress, at now: Instant) {
        guard creations[pf] != nil, creations[pf]!.ended == nil else { return }
        creations[pf]!.ended = now
    }

    /// The VF went away while held: its request is dropped, and handed back.
    public mutating func removed(_ vf: PCIAddress) -> Held? {
        guard let index = entries.firstIndex(where: { $0.vf == vf }) else { return nil }
        return entries.remove(at: index).held
    }

    /// When the held requests may all go: `settle` after the last creation ended, nil while
    /// one goes on.
    private func settledAt(_ now: Instant) -> Instant? {
        var last: Instant? = nil
        for creation in creations.values {
            let end = creation.end(quiet: timing.quiet)
            if creation.ended == nil && end > now { return nil }
            last = max(last ?? end, end)
        }
        for entry in entries where entry.pf == nil { last = max(last ?? entry.since, entry.since) }
        return (last ?? now) + timing.settle
    }

    /// The requests that may go now: every one once no creation goes on and `settle` has
    /// passed, otherwise those held for `limit`. Oldest first. nil: none.
    public mutating func release(at now: Instant) -> Release? {
        guard !entries.isEmpty else {
            creations = [:]
            return nil
        }
        let going: [Entry]
        var done = false
        if let settled = settledAt(now), settled <= now {
            going = entries
            entries = []
            creations = [:]
            done = true
        } else {
            going = entries.filter { now - $0.since >= timing.limit }
            guard !going.isEmpty else { return nil }
            entries.removeAll { now - $0.since >= timing.limit }
        }
        var pfs: [PCIAddress] = []
        for entry in going { if let pf = entry.pf, !pfs.contains(pf) { pfs.append(pf) } }
        return Release(held: going.map(\.held), physicalFunctions: pfs.sorted(), waited: now - going[0].since, creationsDone: done)
    }

    /// When `release` may next hand something back: nil when nothing is held.
    public func nextRelease(after now: Instant) -> Instant? {
        guard let oldest = entries.first?.since else { return nil }
        let limit = oldest + timing.limit
        // While a creation goes on without its `change`, the quiet deadline is the next look.
        var next = limit
        for creation in creations.values where creation.ended == nil {
            let end = creation.end(quiet: timing.quiet)
            if end > now { next = min(next, end + timing.settle) }
        }
        if let settled = settledAt(now) { next = min(next, settled) }
        return max(next, now)
    }
}

/// How long `VFCreations` waits: see there.
public struct VFCreationTiming: Sendable, Equatable {
    /// A creation without its PF's `change` ends this long after its last VF was heard.
    public var quiet: Duration
    /// The held requests go this long after the last creation ended.
    public var settle: Duration
    /// No request is held longer.
    public var limit: Duration

    public init(quiet: Duration = .seconds(2), settle: Duration = .seconds(1), limit: Duration = .seconds(60)) {
        self.quiet = quiet
        self.settle = settle
        self.limit = limit
    }
}
