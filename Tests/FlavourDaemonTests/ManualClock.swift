import FlavourDaemon
import Synchronization

/// A PublishClock that moves only when a test says so: what the fleet publisher writes is then
/// counted against time the test controls, never against how fast threads ran.
final class ManualClock: Sendable {
    private struct Timer {
        let due: UInt64
        let work: @Sendable () -> Void
    }

    private struct State {
        var now: UInt64 = 1_000_000_000_000
        var timers: [Timer] = []
    }

    private let state = Mutex(State())

    var clock: PublishClock {
        PublishClock(
            now: { self.state.withLock { $0.now } },
            schedule: { delay, work in
                // Due now runs now, as the system clock's task would, right away.
                guard delay > 0 else { return work() }
                self.state.withLock { $0.timers.append(Timer(due: $0.now + delay, work: work)) }
            })
    }

    /// Timers waiting to run.
    var pending: Int { state.withLock { $0.timers.count } }

    /// Moves time on by `seconds` and runs every timer that fell due, in order.
    func advance(seconds: Double = 1) {
        let due = state.withLock { state -> [Timer] in
            state.now += UInt64(seconds * 1e9)
            let now = state.now
            let due = state.timers.filter { $0.due <= now }.sorted { $0.due < $1.due }
            state.timers.removeAll { $0.due <= now }
            return due
        }
        for timer in due { timer.work() }
    }
}
