import FlavourCore
import FlavourEngine
import FlavourPlatform

/// Carries out requests: one at a time per device (the newest waiting request wins),
/// different devices concurrently up to `maxInFlight`. Each request ends with exactly one
/// report.
///
/// Binds block for as long as a driver's probe takes, so they run on threads of their own,
/// never on Swift Concurrency's executor. The threads pull work: a thread that finishes a
/// bind takes the next waiting request itself, so a storm of requests costs no thread hop
/// per request, only a signal when a thread is idle. Threads are started on demand (at most
/// `maxInFlight`) and end `linger` after their last bind: an idle daemon keeps none.
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

    private let maxInFlight: Int
    private let lingerNanoseconds: UInt64
    private let report: Report
    private let observe: Observer
    private let lock = ConditionLock()

    // Guarded by `lock`.
    private var executor: RequestExecutor
    /// Devices being written to: the device of each request in flight, and for a request
    /// with `group` every member of its IOMMU group, so that no member's own request runs
    /// while the group moves.
    private var running: Set<PCIAddress> = []
    /// What each request in flight claimed in `running`.
    private var claims: [PCIAddress: Set<PCIAddress>] = [:]
    private var pending: [PCIAddress: FlavourRequest] = [:]
    /// Devices with a pending request, in arrival order.
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
            Snapshot(inFlight: claims.keys.sorted(), queued: waiting.prefix(Self.observedQueue).compactMap { pending[$0] },
                     queuedCount: waiting.count)
        }
    }
    /// Threads that exist now (binding or waiting for work).
    public var threadCount: Int { locked { threads } }

    public func submit(_ request: FlavourRequest) {
        lock.lock()
        guard !stopping else {
            lock.unlock()
            report(request, .dropped("the daemon is stopping"))
            return
        }
        let older = pending.updateValue(request, forKey: request.address)
        if older == nil { waiting.append(request.address) }
        notifyLocked()
        let start = wakeOrStartLocked()
        lock.unlock()
        if let older { report(older, .superseded) }
        if start { startThread() }
    }

    /// The device went away: its waiting request will not be carried out.
    public func deviceRemoved(_ address: PCIAddress) {
        lock.lock()
        guard let request = pending.removeValue(forKey: address) else {
            lock.unlock()
            return
        }
        waiting.removeAll { $0 == address }
        notifyLocked()
        let waiters = takeIdleWaitersLocked()
        lock.unlock()
        report(request, .dropped("device \(address) was removed"))
        waiters.forEach { $0.resume() }
    }

    /// Stops starting requests; the ones in flight finish. Returns when none is left.
    public func stop() async {
        lock.lock()
        stopping = true
        let dropped = waiting.compactMap { pending.removeValue(forKey: $0) }
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
            if claims.isEmpty && waiting.isEmpty {
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
        guard waiting.count > free, threads < maxInFlight, claims.count < maxInFlight else { return false }
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
            if let (request, claim, executor) = takeRunnableLocked() {
                lock.unlock()
                carryOut(request, executor: executor)
                lock.lock()
                running.subtract(claim)
                claims.removeValue(forKey: request.address)
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

    /// With the lock held: the oldest waiting request whose devices are all free, moved to
    /// running, with the executor it runs with.
    private func takeRunnableLocked() -> (FlavourRequest, Set<PCIAddress>, RequestExecutor)? {
        guard claims.count < maxInFlight else { return nil }
        for (index, address) in waiting.enumerated() where !running.contains(address) {
            guard let request = pending[address] else { continue }
            let claim = request.options.group ? executor.groupMembers(of: address) : [address]
            guard claim.isDisjoint(with: running) else { continue }
            pending.removeValue(forKey: address)
            waiting.remove(at: index)
            running.formUnion(claim)
            claims[address] = claim
            notifyLocked()
            return (request, claim, executor)
        }
        return nil
    }

    private func hasRunnableLocked() -> Bool {
        claims.count < maxInFlight && waiting.contains { !running.contains($0) }
    }

    /// One request, outside the lock; with `group`, the other members moved too and each
    /// gets an outcome of its own, so the journal says what happened to every device.
    private func carryOut(_ request: FlavourRequest, executor: RequestExecutor) {
        let outcomes = request.options.group
            ? executor.handleGroup(address: request.address, requested: request.requested, options: request.options)
            : [executor.handle(address: request.address, requested: request.requested, options: request.options)]
        let own = outcomes.firstIndex { $0.address == request.address } ?? 0
        for (index, member) in outcomes.enumerated() where index != own {
            report(FlavourRequest(address: member.address, requested: request.requested, origin: .group,
                                  options: request.options, groupOf: request.address), .done(member))
        }
        report(request, .done(outcomes[own]))
    }

    // MARK: - Lock helpers

    private func notifyLocked() {
        observe(claims.count, waiting.count)
    }

    private func takeIdleWaitersLocked() -> [CheckedContinuation<Void, Never>] {
        guard claims.isEmpty, waiting.isEmpty, !idleWaiters.isEmpty else { return [] }
        defer { idleWaiters.removeAll() }
        return idleWaiters
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}
