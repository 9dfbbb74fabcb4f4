import FlavourCore
import FlavourEngine
import FlavourPOSIX

/// Carries out requests: one at a time per device (the newest waiting request wins),
/// different devices concurrently up to `maxInFlight`. Each request it takes ends with
/// exactly one report, except those still waiting when it stops, which `stop` hands back.
///
/// Binds block for as long as a driver's probe takes, so they run on threads of their own,
/// never on Swift Concurrency's executor. The threads pull work: a thread that finishes a
/// bind takes the next waiting request itself, so a storm of requests costs no thread hop
/// per request, only a signal when a thread is idle. Threads are started on demand (at most
/// `maxInFlight`) and end `linger` after their last bind: an idle daemon keeps none.
///
/// A request whose sysfs write does not return within `stuckAfter` (a driver's probe or
/// remove that hangs) is reported stuck, and no longer counts against `maxInFlight`: a
/// replacement thread serves the other devices. At most `maxInFlight` requests count as
/// stuck at once, so the threads are bounded by twice `maxInFlight`. A stuck request ends
/// normally when its write returns.
///
/// Nothing under the lock touches sysfs: what a request writes to (its `RequestScope`, the
/// device or its IOMMU group) is read in `submit`, before the lock is taken.
public final class RequestScheduler: @unchecked Sendable {
    public typealias Report = @Sendable (FlavourRequest, RequestOutcome) -> Void
    /// Told that what is in flight or waiting changed, with how many of each; called with
    /// the scheduler's lock held (in order, and it must not call back). Whoever wants the
    /// requests themselves takes a `snapshot()` later, when it needs one: the status file
    /// does at each write, not at each of the three changes every request makes.
    public typealias Observer = @Sendable (_ inFlightCount: Int, _ queuedCount: Int) -> Void
    /// Told that a request has been in flight for `elapsed` and counts as stuck now.
    public typealias StuckReport = @Sendable (_ request: FlavourRequest, _ elapsed: Duration) -> Void
    /// How many waiting requests a snapshot shows: enough for an admin to see what comes
    /// next, and cheap to copy from a queue of a thousand.
    public static let observedQueue = 16

    /// What is in flight and what waits (the first `observedQueue` waiting requests, and
    /// how many wait in all), and which requests in flight are stuck.
    public struct Snapshot: Sendable {
        public let inFlight: [PCIAddress]
        public let queued: [FlavourRequest]
        public let queuedCount: Int
        public let stuck: [PCIAddress]

        public init(inFlight: [PCIAddress] = [], queued: [FlavourRequest] = [], queuedCount: Int = 0, stuck: [PCIAddress] = []) {
            self.inFlight = inFlight
            self.queued = queued
            self.queuedCount = queuedCount
            self.stuck = stuck
        }
    }

    /// Whether the scheduler gets on with its work, for the service manager's watchdog: it
    /// does while no waiting request could start, or while requests start or end.
    public struct Progress: Equatable, Sendable {
        /// Requests started plus requests ended, ever.
        public let steps: UInt64
        /// Waiting requests whose devices no request in flight holds.
        public let runnable: Int
    }

    /// What `submit` did with a request.
    public enum Admission: Equatable, Sendable {
        /// Queued: it ends with one report.
        case queued
        /// Not taken: the device has a request waiting or running (`onlyIfIdle`).
        case busy
        /// Not taken: the scheduler is stopping.
        case stopping
    }

    /// A request and what it writes to; once running, when it started and whether it is stuck.
    private final class Job: @unchecked Sendable {
        let request: FlavourRequest
        let scope: RequestScope
        // Guarded by the scheduler's lock.
        var started: UInt64 = 0
        var stuck = false
        init(request: FlavourRequest, scope: RequestScope) {
            self.request = request
            self.scope = scope
        }
    }

    private let maxInFlight: Int
    private let lingerNanoseconds: UInt64
    private let stuckAfterNanoseconds: UInt64?
    private let report: Report
    private let observe: Observer
    private let reportStuck: StuckReport
    private let lock = ConditionLock()

    // Guarded by `lock`.
    private var executor: RequestExecutor
    /// What each request in flight holds, by the device it was made for: the device, and
    /// for a request with `group` every member of its IOMMU group, so that no member's own
    /// request runs while the group moves.
    private var claims: [PCIAddress: Set<PCIAddress>] = [:]
    /// The request in flight of each device in `claims`.
    private var running: [PCIAddress: Job] = [:]
    /// How many of `running` are stuck.
    private var stuckCount = 0
    /// The waiting request of each device: a newer request for the same device replaces the
    /// older one, in its place in `waiting`.
    private var pending: [PCIAddress: Job] = [:]
    /// Devices with a waiting request, in arrival order. (Not an OrderedDictionary with
    /// `pending`: swift-collections' code added 0.3 MiB to flavourd's idle RSS.)
    private var waiting: [PCIAddress] = []
    private var stopping = false
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var threads = 0
    private var idleThreads = 0
    private var steps: UInt64 = 0
    /// Looks for stuck requests while any is in flight (`stuckAfter` set).
    private var watcher: Task<Void, Never>?
    private var watching = false

    public init(
        executor: RequestExecutor, maxInFlight: Int, linger: Duration = .seconds(2), stuckAfter: Duration? = nil,
        observe: @escaping Observer = { _, _ in }, stuck: @escaping StuckReport = { _, _ in }, report: @escaping Report
    ) {
        self.executor = executor
        self.maxInFlight = max(1, maxInFlight)
        lingerNanoseconds = Self.nanoseconds(linger)
        stuckAfterNanoseconds = stuckAfter.map(Self.nanoseconds)
        self.observe = observe
        self.reportStuck = stuck
        self.report = report
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    public var currentExecutor: RequestExecutor { locked { executor } }

    /// Used after a reload; binds in flight finish with the executor they started with.
    public func replaceExecutor(_ executor: RequestExecutor) { locked { self.executor = executor } }

    public var inFlight: [PCIAddress] { locked { claims.keys.sorted() } }

    public func snapshot() -> Snapshot {
        locked {
            Snapshot(inFlight: claims.keys.sorted(), queued: waiting.prefix(Self.observedQueue).compactMap { pending[$0]?.request },
                     queuedCount: pending.count, stuck: running.values.filter(\.stuck).map(\.request.address).sorted())
        }
    }

    public var progress: Progress {
        locked { Progress(steps: steps, runnable: waiting.count { !pending[$0]!.scope.devices.contains(where: isClaimedLocked) }) }
    }

    /// Threads that exist now (binding or waiting for work).
    public var threadCount: Int { locked { threads } }

    /// Whether a request for `address` waits or runs (as the device's own request, or as a
    /// member of a group's) that `matches`.
    public func holds(_ address: PCIAddress, where matches: (FlavourRequest) -> Bool = { _ in true }) -> Bool {
        locked {
            if let job = pending[address], matches(job.request) { return true }
            return running.values.contains { $0.scope.devices.contains(address) && matches($0.request) }
        }
    }

    /// Queues the request, unless the scheduler is stopping, or with `onlyIfIdle` (a standing
    /// request's) the device already has a request waiting or running, which stays. Nothing
    /// is reported for a request not taken.
    @discardableResult
    public func submit(_ request: FlavourRequest, onlyIfIdle: Bool = false) -> Admission {
        // Decided once, here, outside the lock: the device alone, or its IOMMU group.
        let scope = request.options.group
            ? currentExecutor.scope(of: request.address, group: true) : .device(request.address)
        lock.lock()
        guard !stopping else {
            lock.unlock()
            return .stopping
        }
        guard !onlyIfIdle || (pending[request.address] == nil && !isClaimedLocked(request.address)) else {
            lock.unlock()
            return .busy
        }
        let older = pending.updateValue(Job(request: request, scope: scope), forKey: request.address)
        if older == nil { waiting.append(request.address) }
        notifyLocked()
        let start = wakeOrStartLocked()
        lock.unlock()
        if let older { report(older.request, .superseded) }
        if start { startThread() }
        return .queued
    }

    /// The device went away: its waiting request will not be carried out.
    public func deviceRemoved(_ address: PCIAddress) {
        lock.lock()
        guard let job = pending.removeValue(forKey: address) else {
            lock.unlock()
            return
        }
        waiting.removeAll { $0 == address }
        notifyLocked()
        let waiters = takeIdleWaitersLocked()
        lock.unlock()
        report(job.request, .dropped("device \(address) was removed"))
        waiters.forEach { $0.resume() }
    }

    /// Stops starting requests, at once: from the return on, no thread takes another. Returns
    /// the requests that were waiting, oldest first (none at a second call); nothing is
    /// reported for them. `stop` waits for the ones in flight too.
    @discardableResult
    public func stopStarting() -> [FlavourRequest] {
        lock.lock()
        stopping = true
        let kept = waiting.compactMap { pending.removeValue(forKey: $0)?.request }
        waiting.removeAll()
        notifyLocked()
        lock.broadcast()  // idle threads end now instead of lingering
        let waiters = takeIdleWaitersLocked()
        lock.unlock()
        waiters.forEach { $0.resume() }
        return kept
    }

    /// Stops starting requests; the ones in flight finish. Returns, once none is left, the
    /// requests that were still waiting, oldest first: nothing is reported for them.
    @discardableResult
    public func stop() async -> [FlavourRequest] {
        let kept = stopStarting()
        await idle()
        locked { watcher }?.cancel()
        return kept
    }

    /// Returns when nothing is running or waiting.
    public func idle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if claims.isEmpty && pending.isEmpty {
                lock.unlock()
                continuation.resume()
            } else {
                idleWaiters.append(continuation)
                lock.unlock()
            }
        }
    }

    // MARK: - Threads

    /// Stuck requests that have a replacement: at most `maxInFlight`.
    private var replacedLocked: Int { min(stuckCount, maxInFlight) }

    /// Requests that count against `maxInFlight`: the ones in flight but the replaced.
    private var activeCountLocked: Int { claims.count - replacedLocked }

    /// Threads allowed now: one per request that may run, plus the replacements.
    private var threadLimitLocked: Int { maxInFlight + replacedLocked }

    /// Whether another request may start now.
    private var hasRoomLocked: Bool { activeCountLocked < maxInFlight && claims.count < threadLimitLocked }

    /// With the lock held, after a request joined `waiting` or a request got stuck: signals
    /// an idle thread, and says whether a new one should start. Every thread not carrying out
    /// a request (idle, or between two requests) looks for work before it waits again, so a
    /// new thread starts only when more requests wait than such threads exist.
    private func wakeOrStartLocked() -> Bool {
        if idleThreads > 0 { lock.signal() }
        let free = threads - claims.count
        guard pending.count > free, threads < threadLimitLocked, hasRoomLocked else { return false }
        threads += 1
        return true
    }

    private func startThread() {
        PosixThread.detach(name: "flavourd-bind") { [self] in work() }
    }

    /// A bind thread: takes the next request it may run, carries it out, reports, and
    /// takes the next; waits `linger` for more when there is none, then ends.
    private func work() {
        lock.lock()
        while true {
            if threads > threadLimitLocked {  // a replacement for a request no longer stuck
                threads -= 1
                lock.unlock()
                return
            }
            if let (job, executor, watch) = takeRunnableLocked() {
                lock.unlock()
                if watch { startWatcher() }
                carryOut(job, executor: executor)
                lock.lock()
                claims.removeValue(forKey: job.request.address)
                running.removeValue(forKey: job.request.address)
                if job.stuck { stuckCount -= 1 }
                steps &+= 1
                notifyLocked()
                // Freed devices can let more than this thread's next request run.
                if idleThreads > 0, hasRunnableLocked() { lock.broadcast() }
                let waiters = takeIdleWaitersLocked()
                if !waiters.isEmpty {
                    lock.unlock()
                    waiters.forEach { $0.resume() }
                    lock.lock()
                }
                continue
            }
            if stopping {
                threads -= 1
                lock.unlock()
                return
            }
            let deadline = ConditionLock.now() &+ lingerNanoseconds
            idleThreads += 1
            lock.wait(until: deadline)
            idleThreads -= 1
            if !hasRunnableLocked(), stopping || ConditionLock.now() >= deadline {
                threads -= 1
                lock.unlock()
                return
            }
        }
    }

    /// With the lock held: whether a request in flight holds the device (at most
    /// `maxInFlight` claims to look through).
    private func isClaimedLocked(_ address: PCIAddress) -> Bool {
        claims.values.contains { $0.contains(address) }
    }

    /// With the lock held: the oldest waiting request whose devices are all free, moved to
    /// the claims, with the executor it runs with, and whether the stuck watcher must start.
    private func takeRunnableLocked() -> (Job, RequestExecutor, Bool)? {
        guard hasRoomLocked else { return nil }
        // Every device in `waiting` has its job in `pending`.
        guard let index = waiting.firstIndex(where: { !pending[$0]!.scope.devices.contains(where: isClaimedLocked) }) else {
            return nil
        }
        let address = waiting.remove(at: index)
        let job = pending.removeValue(forKey: address)!
        job.started = ConditionLock.now()
        claims[address] = job.scope.devices
        running[address] = job
        steps &+= 1
        notifyLocked()
        let watch = stuckAfterNanoseconds != nil && !watching
        if watch { watching = true }
        return (job, executor, watch)
    }

    private func hasRunnableLocked() -> Bool {
        hasRoomLocked && waiting.contains { !isClaimedLocked($0) }
    }

    /// One request, outside the lock; with `group`, the other members moved too and each
    /// gets an outcome of its own, so the journal says what happened to every device.
    private func carryOut(_ job: Job, executor: RequestExecutor) {
        let request = job.request
        let outcomes = executor.carryOut(request.requested, on: job.scope, options: request.options)
        let own = outcomes.firstIndex { $0.address == request.address } ?? 0
        for (index, member) in outcomes.enumerated() where index != own {
            report(FlavourRequest(address: member.address, requested: request.requested, origin: .group,
                                  options: request.options, groupOf: request.address), .done(member))
        }
        report(request, .done(outcomes[own]))
    }

    // MARK: - Stuck requests

    /// Starts the task that finds stuck requests; it ends when nothing is in flight.
    private func startWatcher() {
        let task = Task { [weak self] in
            while let delay = self?.markStuck() {
                do { try await Task.sleep(nanoseconds: delay) } catch { return }
            }
        }
        locked { watcher = task }
    }

    /// Marks the requests in flight past the deadline stuck, reports them, starts a
    /// replacement thread when work waits; returns how long to sleep until the next deadline,
    /// or nil (and the watcher ends) when nothing is in flight.
    private func markStuck() -> UInt64? {
        guard let limit = stuckAfterNanoseconds else { return nil }
        lock.lock()
        guard !running.isEmpty else {
            watching = false
            watcher = nil
            lock.unlock()
            return nil
        }
        let now = ConditionLock.now()
        var newlyStuck: [Job] = []
        var next = now &+ limit
        for job in running.values where !job.stuck {
            if now &- job.started >= limit {
                job.stuck = true
                stuckCount += 1
                newlyStuck.append(job)
            } else {
                next = min(next, job.started &+ limit)
            }
        }
        var start = false
        if !newlyStuck.isEmpty {
            notifyLocked()
            if !stopping { start = wakeOrStartLocked() }
        }
        lock.unlock()
        for job in newlyStuck {
            reportStuck(job.request, .nanoseconds(Int64(now &- job.started)))
        }
        if start { startThread() }
        return max(next &- now, 1_000_000)
    }

    // MARK: - Lock helpers

    private func notifyLocked() {
        observe(claims.count, pending.count)
    }

    private func takeIdleWaitersLocked() -> [CheckedContinuation<Void, Never>] {
        guard claims.isEmpty, pending.isEmpty, !idleWaiters.isEmpty else { return [] }
        defer { idleWaiters.removeAll() }
        return idleWaiters
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}
