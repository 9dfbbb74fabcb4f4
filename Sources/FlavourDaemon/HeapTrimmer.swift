import FlavourCore
import Synchronization

/// Gives the heap's free pages back to the kernel when `HeapTrimRule` says so: after a burst
/// of requests, once the scheduler is idle, at the status file's next write (which the
/// scheduler's last change schedules): rendering a thousand devices' outcomes frees as much
/// as the burst did, so a trim before it would leave that resident.
final class HeapTrimmer: Sendable {
    private let rule = Mutex(HeapTrimRule())
    /// The rule said to trim; the status file's next write does.
    private let due = Atomic<Bool>(false)
    private let release: @Sendable () -> Void

    init(release: @escaping @Sendable () -> Void) { self.release = release }

    /// A request ended.
    func outcome() { rule.withLock { $0.outcome() } }

    /// The scheduler's queue changed (its lock held): a trim is due if it fell idle after a burst.
    func queueChanged(inFlight: Int, queued: Int) {
        if rule.withLock({ $0.trimNow(inFlight: inFlight, queued: queued) }) { due.store(true, ordering: .releasing) }
    }

    /// The status file was written: trims if a trim is due.
    func statusWritten() {
        if due.exchange(false, ordering: .acquiringAndReleasing) { release() }
    }

    /// Trims now (after start-up, after a reload); the burst's count starts again.
    func trim() {
        release()
        rule.withLock { $0.trimmed() }
    }
}
