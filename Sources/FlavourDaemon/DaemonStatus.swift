import FlavourCore
import FlavourEngine
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What `flavourctl status` and `flavourctl set` read: the daemon's state, the
/// requests it holds and the last outcome per device, in `<run>/status.json`.
/// Written shortly after a change (coalesced), never on a timer: an idle daemon does not wake.
/// Recording is synchronous, under a lock, so outcomes land in the order they happen.
public final class DaemonStatus: Sendable {
    /// What the file says, guarded by `contents`.
    private struct Contents {
        var state = "starting"
        var source = "none"
        var standing: [String] = []
        /// The scheduler's queue, read when the file is written: a storm of requests
        /// changes it thousands of times, the file is written every 50 ms at most.
        var queue: (@Sendable () -> RequestScheduler.Snapshot)?
        /// The last outcome of each device, as JSON made once when it is recorded: a flush
        /// only joins them.
        var lastJSON: [PCIAddress: String] = [:]
        var flushScheduled = false
        var finished = false
    }

    private let path: String
    private let contents = Mutex(Contents())
    private let startedAt = DaemonStatus.realtimeNanoseconds()

    public init(path: String) { self.path = path }

    public func set(state: String) {
        changed { $0.state = state }
    }

    public func set(source: String, standing: [StandingRequest]) {
        let standing = standing.map { "\($0.flavourName) \($0.selector) (\($0.source))" }
        changed {
            $0.source = source
            $0.standing = standing
        }
    }

    /// Where the requests in flight and waiting come from: asked at each write of the file.
    public func watch(_ queue: @escaping @Sendable () -> RequestScheduler.Snapshot) {
        changed { $0.queue = queue }
    }

    /// The scheduler's queue changed: the file is written again soon. Cheap, as it is told
    /// three times per request; the queue itself is read when the file is written.
    public func queueChanged() {
        changed { _ in }
    }

    public func record(_ request: FlavourRequest, _ outcome: RequestOutcome) {
        let kind = outcome.kind
        var driver: String? = nil
        var summary = kind.name
        if case .done(let bind) = outcome {
            driver = bind.driver?.rawValue
            summary = bind.attempts.filter { !$0.succeeded }.map(\.description).joined(separator: "; ")
            if case .refused(let why) = bind.result { summary = why }
            if case .revertFailed(let why) = bind.result { summary = why }
        } else if case .dropped(let why) = outcome {
            summary = why
        }
        store(request.address, requested: request.requested.description, kind: kind, driver: driver, uuid: request.uuid,
              summary: summary)
    }

    private func store(
        _ address: PCIAddress, requested: String, kind: OutcomeKind, driver: String?, uuid: String?, summary: String
    ) {
        let json = JSONText.object([
            ("address", JSONText.string(address.description)), ("requested", JSONText.string(requested)),
            ("result", JSONText.string(kind.name)), ("driver", JSONText.optional(driver)),
            ("uuid", JSONText.optional(uuid)), ("finished_at_ns", String(Self.realtimeNanoseconds())),
            ("summary", JSONText.string(summary)),
        ])
        changed { $0.lastJSON[address] = json }
    }

    /// A request refused before it reached the scheduler (unknown flavour), so that
    /// `flavourctl set` hears about it too.
    public func rejected(_ address: PCIAddress, value: String, uuid: String?, reason: String) {
        store(address, requested: value, kind: .rejected, driver: nil, uuid: uuid, summary: reason)
    }

    /// Writes the file now (at shutdown, and in tests). After the `final` flush (the
    /// daemon's last word, at stop) the file is never written again: a flush scheduled
    /// earlier must not rewrite it, or recreate a run directory that was removed meanwhile.
    public func flush(final: Bool = false) {
        // Outside the status lock: the scheduler calls `queueChanged` with its own held.
        let snapshot = contents.withLock { $0.queue }?()
        let text = contents.withLock { contents -> String? in
            contents.flushScheduled = false
            guard !contents.finished else { return nil }
            contents.finished = final
            if final { contents.queue = nil }  // the scheduler's report holds this status: end the cycle
            return render(contents, snapshot ?? RequestScheduler.Snapshot(inFlight: [], queued: [], queuedCount: 0))
        }
        if let text { Self.writeAtomically(path, text) }
    }

    private func render(_ contents: Contents, _ snapshot: RequestScheduler.Snapshot) -> String {
        let outcomes = contents.lastJSON.keys.sorted().map { contents.lastJSON[$0]! }
        return JSONText.object([
            ("pid", String(getpid())), ("state", JSONText.string(contents.state)), ("source", JSONText.string(contents.source)),
            ("started_at_ns", String(startedAt)),
            ("standing_requests", JSONText.array(contents.standing.map(JSONText.string))),
            ("in_flight", JSONText.array(snapshot.inFlight.map { JSONText.string($0.description) })),
            ("queued", JSONText.array(snapshot.queued.map { JSONText.string("\($0.address) \($0.requested)") })),
            ("queued_count", String(snapshot.queuedCount)),
            ("last_outcomes", JSONText.array(outcomes)),
        ]) + "\n"
    }

    /// Changes the contents and schedules a write, in one critical section: the scheduler
    /// reports several changes per request.
    private func changed(_ change: (inout Contents) -> Void) {
        let schedule = contents.withLock { contents -> Bool in
            change(&contents)
            defer { contents.flushScheduled = true }
            return !contents.flushScheduled
        }
        guard schedule else { return }
        Task {
            try? await Task.sleep(for: .milliseconds(50))
            self.flush()
        }
    }

    static func realtimeNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Best effort: readers keep the previous file when this one cannot be written. The
    /// run directory is made if it is missing (a fresh /run, a new --run-dir).
    static func writeAtomically(_ path: String, _ text: String) {
        mkdir(String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]), 0o755)
        try? FileSystem.writeAtomically(Array(text.utf8), to: path)
    }
}
