import FlavourCore
import FlavourEngine
import FlavourPOSIX

/// Carries out requests: one at a time per device (the newest waiting request wins),
/// different devices concurrently up to `maxInFlight`. Each request ends with exactly one
/// report.
///
/// Binds block for as long as a driver's probe takes, so they run on threads of their own,
/// never on Swift Concurrency's executor. The threads pull work: a thread that finishes a
/// bind takes the next waiting request itself, so a storm of requests costs no thread hop
/// per request, only a signal when a thread is idle. Threads are started on demand (at most
/// `maxInFlight`) and end `linger` after their last bind: an idle daemon keeps none.
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
    /// How many waiting requests a snapshot shows: enough for an admin to see what comes
    /// next, and cheap to copy from a queue of a thousand.
    public static let observedQueue = 16

    /// What is in flight and what waits (the first `observedQueue` waiting requests, and
    /// how many wait in all).
    public struct Snapshot: Sendable {
        public let inFlight: [PCIAddress]
        public let queued: [FlavourRequest]
        public let queuedCount: Int
    }

    /// A request and what it writes to.
    private final class Job: Sendable {
        let request: FlavourRequest
        let scope: RequestScope
        init(request: FlavourRequest, scope: RequestScope) {
            self.request = request
            self.scope = scope
        }
    }

    private let maxInFlight: Int
    private let lingerNanoseconds: UInt64
    private let report: Report
    private let observe: Observer
    private let lock = ConditionLock()

    // Guarded by `lock`.
    private var executor: RequestExecutor
    /// What each request in flight holds, by the device it was made for: the device, and
    /// for a request with `group` every member of its IOMMU group, so that no member's own
    /// request runs while the group moves.
    private var claims: [PCIAddress: Set<PCIAddress>] = [:]
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

    public init(
        executor: RequestExecutor, maxInFlight: Int, linger: Duration = .seconds(2),
        observe: @escaping Observer = { _, _ in }, report: @escaping Report
    ) {
        self.executor = executor
        self.maxInFlight = max(1, maxInFlight)
        let (seconds, attoseconds) = linger.components
        lingerNanoseconds = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
        self.observe = observe
        self.report = report
    }

    public var currentExecutor: RequestExecutor { locked { executor } }

    /// Used after a reload; binds in flight finish with the executor they started with.
    public func replaceExecutor(_ executor: RequestExecutor) { locked { self.executor = executor } }

    public var inFlight: [PCIAddress] { locked { claims.keys.sorted() } }

    public func snapshot() -> Snapshot {
        locked {
            Snapshot(inFlight: claims.keys.sorted(), queued: waiting.prefix(Self.observedQueue).compactMap { pending[$0]?.request },
                     queuedCount: pending.count)
        }
    }
    /// Threads that exist now (binding or waiting for work).
    public var threadCount: Int { locked { threads } }

    public func submit(_ request: FlavourRequest) {
        // Decided once, here, outside the lock: the device alone, or its IOMMU group.
        let scope = request.options.group
            ? currentExecutor.scope(of: request.address, group: true) : .device(request.address)
        lock.lock()
        guard !stopping else {
            lock.unlock()
            report(request, .dropped("the daemon is stopping"))
            return
        }
        let older = pending.updateValue(Job(request: request, scope: scope), forKey: request.address)
        if older == nil { waiting.append(request.address) }
        notifyLocked()
        let start = wakeOrStartLocked()
        lock.unlock()
        if let older { report(older.request, .superseded) }
        if start { startThread() }
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

    /// Stops starting requests; the ones in flight finish. Returns when none is left.
    public func stop() async {
        lock.lock()
        stopping = true
        let dropped = waiting.compactMap { pending.removeValue(forKey: $0)?.request }
        waiting.removeAll()
        notifyLocked()
        lock.broadcast()  // idle threads end now instead of lingering
        let waiters = takeIdleWaitersLocked()
        lock.unlock()
        for request in dropped { report(request, .dropped("the daemon is stopping")) }
        waiters.forEach { $0.resume() }
        await idle()
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

    /// With the lock held, after a request joined `waiting`: signals an idle thread, and says
    /// whether a new one should start. Every thread not carrying out a request (idle, or
    /// between two requests) looks for work before it waits again, so a new thread starts
    /// only when more requests wait than such threads exist.
    private func wakeOrStartLocked() -> Bool {
        if idleThreads > 0 { lock.signal() }
        let free = threads - claims.count
        guard pending.count > free, threads < maxInFlight, claims.count < maxInFlight else { return false }
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
            if let (job, executor) = takeRunnableLocked() {
                lock.unlock()
                carryOut(job, executor: executor)
                lock.lock()
                claims.removeValue(forKey: job.request.address)
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
    /// the claims, with the executor it runs with.
    private func takeRunnableLocked() -> (Job, RequestExecutor)? {
        guard claims.count < maxInFlight else { return nil }
        // Every device in `waiting` has its job in `pending`.
        guard let index = waiting.firstIndex(where: { !pending[$0]!.scope.devices.contains(where: isClaimedLocked) }) else {
            return nil
        }
        let address = waiting.remove(at: index)
        let job = pending.removeValue(forKey: address)!
        claims[address] = job.scope.devices
        notifyLocked()
        return (job, executor)
    }

    private func hasRunnableLocked() -> Bool {
        claims.count < maxInFlight && waiting.contains { !isClaimedLocked($0) }
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
