import FlavourCore
import FlavourEngine
import FlavourPlatform

/// Carries out requests: one at a time per device (the newest waiting request wins),
/// different devices concurrently up to `maxInFlight`. Each request ends with exactly one
/// report. Binds run on `WorkerThreads` (at most `maxInFlight`), since sysfs writes block
/// for as long as a driver's probe takes and must not hold up Swift Concurrency's
/// executor; the threads end shortly after the last bind, so an idle daemon keeps none.
public actor RequestScheduler {
    public typealias Report = @Sendable (FlavourRequest, RequestOutcome) -> Void
    /// Told what is in flight and what waits (the first `observedQueue` waiting requests
    /// and how many wait in all), each time either changes.
    public typealias Observer = @Sendable (_ inFlight: [PCIAddress], _ queued: [FlavourRequest], _ queuedCount: Int) -> Void
    /// How many waiting requests an observer is shown: enough for an admin to see what
    /// comes next, and cheap to hand over on every change of a queue of a thousand.
    public static let observedQueue = 16

    private var executor: RequestExecutor
    private let maxInFlight: Int
    private let report: Report
    private let observe: Observer
    private let threads: WorkerThreads

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

    public init(executor: RequestExecutor, maxInFlight: Int, observe: @escaping Observer = { _, _, _ in },
                report: @escaping Report) {
        self.executor = executor
        self.maxInFlight = max(1, maxInFlight)
        self.observe = observe
        self.report = report
        threads = WorkerThreads(name: "flavourd-bind", limit: self.maxInFlight)
    }

    public var currentExecutor: RequestExecutor { executor }

    /// Used after a reload; binds in flight finish with the executor they started with.
    public func replaceExecutor(_ executor: RequestExecutor) { self.executor = executor }

    public var inFlight: [PCIAddress] { claims.keys.sorted() }
    public var queued: [FlavourRequest] { waiting.compactMap { pending[$0] } }

    public func submit(_ request: FlavourRequest) {
        guard !stopping else {
            report(request, .dropped("the daemon is stopping"))
            return
        }
        let address = request.address
        if let older = pending.updateValue(request, forKey: address) {
            report(older, .superseded)
        } else {
            waiting.append(address)
        }
        startWhatCan()
        notify()
    }

    /// The device went away: its waiting request will not be carried out.
    public func deviceRemoved(_ address: PCIAddress) {
        guard let request = pending.removeValue(forKey: address) else { return }
        waiting.removeAll { $0 == address }
        report(request, .dropped("device \(address) was removed"))
        notify()
        resumeIfIdle()
    }

    /// Stops starting requests; the ones in flight finish. Returns when none is left.
    public func stop() async {
        stopping = true
        for address in waiting {
            if let request = pending.removeValue(forKey: address) { report(request, .dropped("the daemon is stopping")) }
        }
        waiting.removeAll()
        notify()
        await idle()
    }

    /// Returns when nothing is running or waiting.
    public func idle() async {
        if claims.isEmpty && waiting.isEmpty { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    private func startWhatCan() {
        var index = 0
        while claims.count < maxInFlight, index < waiting.count {
            let address = waiting[index]
            guard !running.contains(address), let request = pending[address] else {
                index += 1
                continue
            }
            let claim = request.options.group ? executor.groupMembers(of: address) : [address]
            guard claim.isDisjoint(with: running) else {
                index += 1
                continue
            }
            pending.removeValue(forKey: address)
            waiting.remove(at: index)
            start(request, claim: claim)
        }
    }

    private func start(_ request: FlavourRequest, claim: Set<PCIAddress>) {
        running.formUnion(claim)
        claims[request.address] = claim
        let executor = executor
        Task {
            let outcomes = await withCheckedContinuation { continuation in
                threads.run {
                    continuation.resume(returning: request.options.group
                        ? executor.handleGroup(address: request.address, requested: request.requested, options: request.options)
                        : [executor.handle(address: request.address, requested: request.requested, options: request.options)])
                }
            }
            // With `group`, the other members moved too: each gets an outcome of its own,
            // so the journal says what happened to every device that changed.
            let own = outcomes.firstIndex { $0.address == request.address } ?? 0
            for (index, member) in outcomes.enumerated() where index != own {
                report(FlavourRequest(address: member.address, requested: request.requested, origin: .group,
                                      options: request.options, groupOf: request.address), .done(member))
            }
            self.finished(request, outcomes[own])
        }
    }

    private func finished(_ request: FlavourRequest, _ outcome: BindOutcome) {
        running.subtract(claims.removeValue(forKey: request.address) ?? [request.address])
        report(request, .done(outcome))
        if !stopping { startWhatCan() }
        notify()
        resumeIfIdle()
    }

    private func notify() {
        observe(inFlight, waiting.prefix(Self.observedQueue).compactMap { pending[$0] }, waiting.count)
    }

    private func resumeIfIdle() {
        guard claims.isEmpty, waiting.isEmpty else { return }
        let waiters = idleWaiters
        idleWaiters.removeAll()
        waiters.forEach { $0.resume() }
    }
}
