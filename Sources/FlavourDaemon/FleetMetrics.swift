import FlavourCore
import FlavourEngine

/// What flavourd's Prometheus metrics say (`driver_flavour.prom`, flavourd(8) "Fleets"), kept
/// as outcomes happen and rendered when the file is written. Every outcome the journal gets is
/// counted here (OutcomeLog hands each one over), so the counters and the journal agree.
/// A value: `FleetPublisher` keeps it under its lock.
struct FleetMetrics {
    /// What flavourd last did to a device it has carried out a request for.
    struct Device {
        /// The flavour the device is on; nil when it is on its default driver or flavourd does
        /// not know (it failed without being restored).
        var flavour: String?
        var driver: String?
        /// The kind of its last request's failure, until a later request succeeds.
        var failed: OutcomeKind?
        /// Its sysfs write has not returned within the deadline, until its request ends.
        var stuck = false
    }

    struct CounterKey: Hashable {
        let kind: OutcomeKind
        let flavour: String
    }

    /// The kinds a request for a flavour can end with, and those a revert (`none`) can: each
    /// is exported from the start (at 0), so that a first increment is a rate, not a new series.
    static let flavourKinds: [OutcomeKind] = [
        .bound, .fellBack, .unchanged, .failedRolledBack, .failedNotRestored, .rejected, .superseded, .dropped,
    ]
    static let revertKinds: [OutcomeKind] = [.unchanged, .reverted, .revertFailed, .rejected, .superseded, .dropped]
    /// The failed kinds a device can be left in.
    static let failedKinds: [OutcomeKind] = [.failedRolledBack, .failedNotRestored, .revertFailed]

    private(set) var outcomes: [CounterKey: Int] = [:]
    /// The configuration's flavours, whose counters are exported from the start.
    private(set) var flavours: [String] = [Flavour.vfio.name]
    private(set) var lastOutcomeNanoseconds: UInt64?
    private(set) var devices: [PCIAddress: Device] = [:]
    /// Present devices a standing request covers, with its flavour.
    private(set) var covered: [PCIAddress: String] = [:]
    private(set) var resyncs = 0
    private(set) var overruns = 0

    mutating func setFlavours(_ names: [String]) { flavours = names.sorted() }

    /// An outcome, as the journal logs it; `now` is the realtime clock in nanoseconds.
    mutating func record(_ request: FlavourRequest, _ outcome: RequestOutcome, now: UInt64) {
        count(outcome.kind, flavour: request.requested.description, now: now)
        guard case .done(let bind) = outcome else {
            if case .dropped = outcome { devices[request.address]?.stuck = false }
            return
        }
        var device = devices[request.address] ?? Device()
        device.stuck = false
        switch bind.result {
        case .bound, .fellBack, .alreadyBound:
            device = Device(flavour: request.requested.description, driver: bind.driver?.rawValue)
        case .reverted, .alreadyDefault:
            device = Device(flavour: nil, driver: bind.driver?.rawValue)
        case .failedRestored, .revertFailed:
            device.failed = outcome.kind  // back where it was: its flavour and driver stand
        case .failedNotRestored(_, let now):
            device = Device(flavour: nil, driver: now?.rawValue, failed: .failedNotRestored)
        case .refused:
            break
        case .gone:
            devices[request.address] = nil
            covered[request.address] = nil
            return
        }
        devices[request.address] = device
    }

    /// A request refused before it reached the scheduler: its value counts as its flavour only
    /// when it names one (or `none`), so that what users type cannot make new series.
    mutating func rejected(value: String?, now: UInt64) {
        let known = value.map { $0 == Flavour.revertName || flavours.contains($0) } ?? false
        count(.rejected, flavour: known ? value! : "", now: now)
    }

    private mutating func count(_ kind: OutcomeKind, flavour: String, now: UInt64) {
        outcomes[CounterKey(kind: kind, flavour: flavour), default: 0] += 1
        lastOutcomeNanoseconds = now
    }

    /// The standing requests' devices, as coldplug found them (start and reload).
    mutating func setCovered(_ covered: [PCIAddress: String]) { self.covered = covered }

    /// A device appeared; `flavour` is its standing request's, if one covers it.
    mutating func deviceAdded(_ address: PCIAddress, coveredBy flavour: String?) { covered[address] = flavour }

    mutating func deviceRemoved(_ address: PCIAddress) {
        devices[address] = nil
        covered[address] = nil
    }

    mutating func stuck(_ address: PCIAddress) { devices[address, default: Device()].stuck = true }

    mutating func resynced(afterOverrun overrun: Bool) {
        resyncs += 1
        if overrun { overruns += 1 }
    }

    /// The text exposition (PrometheusText). Names follow Prometheus's conventions: a
    /// `driver_flavour_` prefix, `_total` on counters, base units (seconds).
    func render(version: String) -> String {
        var text = PrometheusText()
        text.family("driver_flavour_info", .gauge, help: "flavourd's version; always 1.", [.init([("version", version)], 1)])

        var counters: [CounterKey: Int] = outcomes
        for flavour in flavours {
            for kind in Self.flavourKinds { counters[CounterKey(kind: kind, flavour: flavour), default: 0] += 0 }
        }
        for kind in Self.revertKinds { counters[CounterKey(kind: kind, flavour: Flavour.revertName), default: 0] += 0 }
        let order = Dictionary(uniqueKeysWithValues: OutcomeKind.allCases.enumerated().map { ($1, $0) })
        let keys = counters.keys.sorted { ($0.flavour, order[$0.kind]!) < ($1.flavour, order[$1.kind]!) }
        text.family(
            "driver_flavour_outcomes_total", .counter,
            help: "Requests ended, by outcome kind (the journal's MESSAGE_ID) and requested flavour ('none': a revert; empty: a value that names no flavour).",
            keys.map { .init([("kind", $0.kind.name), ("flavour", $0.flavour)], counters[$0]!) })
        if let last = lastOutcomeNanoseconds {
            text.family(
                "driver_flavour_last_outcome_timestamp_seconds", .gauge, help: "When the last request ended, in seconds since the epoch.",
                [.init(secondsFromNanoseconds: last)])
        }

        var onFlavour: [String: [String: Int]] = [:]
        for device in devices.values {
            if let flavour = device.flavour { onFlavour[flavour, default: [:]][device.driver ?? "", default: 0] += 1 }
        }
        text.family(
            "driver_flavour_devices", .gauge, help: "Devices flavourd last gave a flavour, by flavour and the driver they are on.",
            onFlavour.keys.sorted().flatMap { flavour in
                onFlavour[flavour]!.keys.sorted().map { .init([("flavour", flavour), ("driver", $0)], onFlavour[flavour]![$0]!) }
            })
        text.family(
            "driver_flavour_devices_failed", .gauge,
            help: "Devices whose last request failed, by outcome kind, until a later request for them succeeds.",
            Self.failedKinds.map { kind in .init([("kind", kind.name)], devices.values.count { $0.failed == kind }) })
        text.family(
            "driver_flavour_devices_stuck", .gauge,
            help: "Devices whose sysfs write has not returned within the deadline; their request has not ended.",
            [.init([], devices.values.count(where: \.stuck))])

        let applied = covered.count { address, flavour in devices[address]?.flavour == flavour }
        text.family(
            "driver_flavour_standing_request_devices", .gauge,
            help: "Present devices a standing request covers, and those of them on its flavour.",
            [.init([("state", "covered")], covered.count), .init([("state", "applied")], applied)])
        text.family(
            "driver_flavour_resyncs_total", .counter, help: "Times flavourd read every device's state again instead of trusting its events.",
            [.init([], resyncs)])
        text.family(
            "driver_flavour_event_overruns_total", .counter,
            help: "Times the kernel's event socket overflowed (ENOBUFS) and events were lost.", [.init([], overruns)])
        return text.text
    }
}
