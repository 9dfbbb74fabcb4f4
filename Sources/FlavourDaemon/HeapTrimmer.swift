import FlavourCore
import Synchronization

/// Gives the heap's free pages back to the kernel when `HeapTrimRule` says so: after a burst
/// of requests, once the scheduler is idle. The trim runs on a task, off the scheduler's lock.
final class HeapTrimmer: Sendable {
    private let rule = Mutex(HeapTrimRule())
    private let release: @Sendable () -> Void

    init(release: @escaping @Sendable () -> Void) { self.release = release }

    /// A request ended.
    func outcome() { rule.withLock { $0.outcome() } }

    /// The scheduler's queue changed (its lock held): trims soon if it fell idle after a burst.
    func queueChanged(inFlight: Int, queued: Int) {
        guard rule.withLock({ $0.trimNow(inFlight: inFlight, queued: queued) }) else { return }
        let release = release
        Task { release() }
    }

    /// Trims now (after start-up, after a reload); the burst's count starts again.
    func trim() {
        release()
        rule.withLock { $0.trimmed() }
    }
}
