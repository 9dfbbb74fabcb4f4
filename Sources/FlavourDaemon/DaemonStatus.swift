import FlavourCore
import FlavourEngine
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What `flavourctl status` and `flavourctl set` read: the daemon's state, the
/// requests it holds, the last outcome per device and the recent outcomes of synthetic
/// requests by UUID, in `<run>/status.json`.
/// Written shortly after a change (coalesced, paced by `StatusWritePacing`: a large file is
/// written less often), never on a timer: an idle daemon does not wake.
/// Recording is synchronous, under a lock, so outcomes land in the order they happen.
public final class DaemonStatus: Sendable {
    /// The binds held while PFs create VFs (`HeldVFs`): how many, and those PFs.
    public typealias Held = (held: Int, creating: [PCIAddress])

    /// What the file says, guarded by `contents`.
    private struct Contents {
        var state = "starting"
        var source = "none"
        var standing: [String] = []
        /// The scheduler's queue, read when the file is written: a storm of requests
        /// changes it thousands of times, the file is written every 50 ms at most.
        var queue: (@Sendable () -> RequestScheduler.Snapshot)?
        /// The requests held while PFs create VFs (`HeldVFs`), and those PFs.
        var held: (@Sendable () -> Held)?
        /// Called after each write, outside the lock: the heap is trimmed after the write
        /// that follows a burst, as rendering the file frees a lot (`HeapTrimmer`).
        var written: (@Sendable () -> Void)?
        /// The last outcome of each device, as JSON made once when it is recorded: a flush
        /// only joins them.
        var lastJSON: [PCIAddress: String] = [:]
        /// Outcomes of requests with a SYNTH_UUID, newest last, at most `keptByUUID`: a newer
        /// outcome for the same device (a reload's, another request's) must not hide the one
        /// `flavourctl set` waits for.
        var byUUID: [(uuid: String, address: PCIAddress, json: String)] = []
        /// Whether every request of the start (taken over, pending in driver_flavour,
        /// standing) has ended: what `flavourctl settle` waits for.
        var settled = false
        var flushScheduled = false
        var finished = false
        var pacing = StatusWritePacing()
    }

    private let path: String
    private let contents = Mutex(Contents())
    private let startedAt = DaemonStatus.realtimeNanoseconds()
    /// This process as /proc tells it apart from a later one with its pid: flavourctl signals
    /// the pid only while it is still this process.
    private let identity = ProcessIdentity.current()

    /// Outcomes kept by UUID besides each device's last.
    static let keptByUUID = 256

    public init(path: String) { self.path = path }

    public func set(state: String) {
        changed { $0.state = state }
    }

    /// Every request the start made or took over has ended (or none was made).
    public func set(settled: Bool) {
        changed { $0.settled = settled }
    }

    public var isSettled: Bool { contents.withLock { $0.settled } }

    public func set(source: String, standing: [StandingRequest]) {
        let standing = standing.map { "\($0.flavourName) \($0.selector) (\($0.source))" }
        changed {
            $0.source = source
            $0.standing = standing
        }
    }

    /// Where the requests in flight, waiting and held come from: asked at each write of the file.
    public func watch(
        _ queue: @escaping @Sendable () -> RequestScheduler.Snapshot,
        held: (@Sendable () -> Held)? = nil, written: (@Sendable () -> Void)? = nil
    ) {
        changed {
            $0.queue = queue
            $0.held = held
            $0.written = written
        }
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
              origin: request.origin, summary: summary)
    }

    private func store(
        _ address: PCIAddress, requested: String, kind: OutcomeKind, driver: String?, uuid: String?, origin: RequestOrigin?,
        summary: String
    ) {
        let json = JSONText.object([
            ("address", JSONText.string(address.description)), ("requested", JSONText.string(requested)),
            ("result", JSONText.string(kind.name)), ("driver", JSONText.optional(driver)),
            ("uuid", JSONText.optional(uuid)), ("origin", JSONText.optional(origin?.rawValue)),
            ("finished_at_ns", String(Self.realtimeNanoseconds())), ("summary", JSONText.string(summary)),
        ])
        changed { contents in
            contents.lastJSON[address] = json
            if let uuid {
                contents.byUUID.append((uuid, address, json))
                if contents.byUUID.count > Self.keptByUUID { contents.byUUID.removeFirst(contents.byUUID.count - Self.keptByUUID) }
            }
        }
    }

    /// A request refused before it reached the scheduler (unknown flavour), so that
    /// `flavourctl set` hears about it too.
    public func rejected(_ address: PCIAddress, value: String, uuid: String?, reason: String) {
        store(address, requested: value, kind: .rejected, driver: nil, uuid: uuid, origin: nil, summary: reason)
    }

    /// Writes the file now (at shutdown, and in tests). After the `final` flush (the
    /// daemon's last word, at stop) the file is never written again: a flush scheduled
    /// earlier must not rewrite it, or recreate a run directory that was removed meanwhile.
    public func flush(final: Bool = false) {
        // Outside the status lock: the scheduler calls `queueChanged` with its own held.
        let (queue, heldNow) = contents.withLock { ($0.queue, $0.held) }
        let snapshot = queue?()
        let held = heldNow?() ?? (0, [])
        let start = Self.monotonicNanoseconds()
        let rendered = contents.withLock { contents -> (text: String, written: (@Sendable () -> Void)?)? in
            contents.flushScheduled = false
            guard !contents.finished else { return nil }
            contents.finished = final
            let written = contents.written
            if final {  // the scheduler's report holds this status: end the cycle
                contents.queue = nil
                contents.held = nil
                contents.written = nil
            }
            return (render(contents, snapshot ?? RequestScheduler.Snapshot(), held: held), written)
        }
        guard let rendered else { return }
        Self.writeAtomically(path, rendered.text)
        let end = Self.monotonicNanoseconds()
        contents.withLock { $0.pacing.wrote(from: start, to: end) }
        rendered.written?()
    }

    private func render(_ contents: Contents, _ snapshot: RequestScheduler.Snapshot, held: Held) -> String {
        let outcomes = contents.lastJSON.keys.sorted().map { contents.lastJSON[$0]! }
        // Those still a device's last outcome are in last_outcomes already.
        let earlier = contents.byUUID.filter { contents.lastJSON[$0.address] != $0.json }.map(\.json)
        return JSONText.object([
            ("pid", String(getpid())), ("start_time", identity.map { String($0.startTime) } ?? "null"),
            ("state", JSONText.string(contents.state)), ("source", JSONText.string(contents.source)),
            ("started_at_ns", String(startedAt)), ("settled", contents.settled ? "true" : "false"),
            ("standing_requests", JSONText.array(contents.standing.map(JSONText.string))),
            ("in_flight", JSONText.array(snapshot.inFlight.map { JSONText.string($0.description) })),
            ("stuck", JSONText.array(snapshot.stuck.map { JSONText.string($0.description) })),
            ("queued", JSONText.array(snapshot.queued.map { JSONText.string("\($0.address) \($0.requested)") })),
            ("queued_count", String(snapshot.queuedCount)),
            ("held_for_vf_creations", String(held.held)),
            ("creating_vfs", JSONText.array(held.creating.map { JSONText.string($0.description) })),
            ("last_outcomes", JSONText.array(outcomes)),
            ("earlier_outcomes", JSONText.array(earlier)),
        ]) + "\n"
    }

    /// Changes the contents and schedules a write, in one critical section: the scheduler
    /// reports several changes per request.
    private func changed(_ change: (inout Contents) -> Void) {
        let now = Self.monotonicNanoseconds()
        let delay = contents.withLock { contents -> UInt64? in
            change(&contents)
            guard !contents.flushScheduled else { return nil }
            contents.flushScheduled = true
            return contents.pacing.writeTime(changedAt: now) &- now
        }
        guard let delay else { return }
        Task {
            try? await Task.sleep(nanoseconds: delay)
            self.flush()
        }
    }

    static func monotonicNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    static func realtimeNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Best effort: readers keep the previous file when this one cannot be written. The
    /// run directory is made if it is missing (a fresh /run, a new --run-dir). Not synced:
    /// the run directory is memory, which a power cut empties anyway, and the rename alone
    /// gives readers the old file or the new one.
    static func writeAtomically(_ path: String, _ text: String) {
        mkdir(String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]), 0o755)
        try? FileSystem.writeAtomically(Array(text.utf8), to: path, sync: false)
    }
}
