import Synchronization

/// The scheduler, once running (reload and shutdown need it), and whether shutdown has begun.
final class ServiceState: Sendable {
    private struct Value {
        var scheduler: RequestScheduler?
        var shuttingDown = false
    }

    private let value = Mutex(Value())

    var scheduler: RequestScheduler? { value.withLock { $0.scheduler } }
    var shuttingDown: Bool { value.withLock { $0.shuttingDown } }

    /// Records the running scheduler; true when shutdown was asked for before it ran.
    func install(_ scheduler: RequestScheduler) -> Bool {
        value.withLock {
            $0.scheduler = scheduler
            return $0.shuttingDown
        }
    }

    /// Marks shutdown begun: whether this call was the first, and the scheduler if one runs.
    func beginShutdown() -> (first: Bool, scheduler: RequestScheduler?) {
        value.withLock { value in
            defer { value.shuttingDown = true }
            return (!value.shuttingDown, value.scheduler)
        }
    }
}
