import FlavourCore
import Synchronization

/// The scheduler, once running (reload and shutdown need it), whether shutdown has begun,
/// the requests of the start not yet ended (`flavourctl settle` waits for them), and the
/// devices whose driver_override the start set ahead of their bind.
final class ServiceState: Sendable {
    private struct Value {
        var scheduler: RequestScheduler?
        var shuttingDown = false
        var startup: Set<UInt64> = []
        var startupSubmitted = false
        /// Requests that ended while the start was still queueing (one may end before the
        /// start knows all of its ids).
        var endedEarly: Set<UInt64> = []
        var pinned: [PCIAddress: String] = [:]
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

    /// Forgets the scheduler once it has stopped: its report holds this state, and the
    /// cycle would keep the daemon's world alive.
    func uninstall() { value.withLock { $0.scheduler = nil } }

    /// Marks shutdown begun: whether this call was the first, and the scheduler if one runs.
    func beginShutdown() -> (first: Bool, scheduler: RequestScheduler?) {
        value.withLock { value in
            defer { value.shuttingDown = true }
            return (!value.shuttingDown, value.scheduler)
        }
    }

    // MARK: - The start's requests

    /// The start queued these (journal ids); true when all have ended already.
    func startupSubmitted(_ ids: [UInt64]) -> Bool {
        value.withLock { value in
            value.startup = Set(ids).subtracting(value.endedEarly)
            value.endedEarly = []
            value.startupSubmitted = true
            return value.startup.isEmpty
        }
    }

    /// A request ended; true when it was the last of the start's (after they were all queued).
    func ended(_ id: UInt64?) -> Bool {
        guard let id else { return false }
        return value.withLock { value in
            guard value.startupSubmitted else {
                value.endedEarly.insert(id)
                return false
            }
            return value.startup.remove(id) != nil && value.startup.isEmpty
        }
    }

    // MARK: - Pinned devices

    /// The start wrote `driver` to the device's driver_override ahead of its bind.
    func pinned(_ address: PCIAddress, to driver: String) { value.withLock { $0.pinned[address] = driver } }

    /// The driver the device was pinned to, if it was; forgotten with this call.
    func unpin(_ address: PCIAddress) -> String? { value.withLock { $0.pinned.removeValue(forKey: address) } }
}
