import FlavourCore
import Synchronization

/// The standing requests for new VFs, held while PFs are still creating VFs (`VFCreations`
/// decides; this keeps the state and the one timer that lets them go). No timer runs while
/// nothing is held.
final class HeldVFs: Sendable {
    typealias Release = VFCreations<FlavourRequest>.Release

    private struct State {
        var creations: VFCreations<FlavourRequest>
        /// The timer, while something is held; its number tells a replaced timer from the current.
        var timer: Task<Void, Never>?
        var timerNumber: UInt64 = 0
    }

    private let state: Mutex<State>
    /// Called, off the lock, with what may go.
    private let release = Mutex<(@Sendable (Release) -> Void)?>(nil)

    init(timing: VFCreationTiming) {
        state = Mutex(State(creations: VFCreations(timing: timing)))
    }

    /// Who takes what may go (the service, set once it exists).
    func onRelease(_ body: @escaping @Sendable (Release) -> Void) {
        release.withLock { $0 = body }
    }

    /// Holds a request for a VF of `pf` (nil: not known yet); true when it is the first heard
    /// of this PF's creation.
    func hold(_ request: FlavourRequest, pf: PCIAddress?) -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            let first = pf.map { !state.creations.isCreating($0, at: now) } ?? false
            state.creations.hold(request, vf: request.address, pf: pf, at: now)
            if state.timer == nil { startTimer(&state) }
            return first
        }
    }

    /// A PF's `change` or `remove`: its creation ended, and the held requests may go sooner.
    func ended(_ pf: PCIAddress) {
        let now = ContinuousClock.now
        state.withLock { state in
            guard state.creations.isCreating(pf, at: now) else { return }
            state.creations.ended(pf, at: now)
            state.timer?.cancel()
            startTimer(&state)
        }
    }

    /// What status.json shows: how many requests are held, and the PFs still creating VFs.
    func snapshot() -> DaemonStatus.Held {
        let now = ContinuousClock.now
        return state.withLock { ($0.creations.count, $0.creations.creating(at: now)) }
    }

    /// The VF went away: its held request is dropped; true when there was one.
    func removed(_ vf: PCIAddress) -> Bool {
        state.withLock { $0.creations.removed(vf) != nil }
    }

    /// Stops the timer and forgets what was held and which PFs create VFs (at shutdown, and at
    /// a reload, whose coldplug reads every device again); says how many requests were held.
    func drop() -> Int {
        state.withLock { state in
            state.timer?.cancel()
            state.timer = nil
            state.timerNumber &+= 1
            let count = state.creations.count
            state.creations = VFCreations(timing: state.creations.timing)
            return count
        }
    }

    private func startTimer(_ state: inout State) {
        state.timerNumber &+= 1
        let number = state.timerNumber
        state.timer = Task { [self] in await run(number) }
    }

    /// The timer: lets go what may, sleeps until the next time something may, and ends when
    /// nothing is held (or when replaced: cancelled).
    private func run(_ number: UInt64) async {
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let (going, next) = state.withLock { state -> (Release?, ContinuousClock.Instant?) in
                guard state.timerNumber == number else { return (nil, nil) }
                let going = state.creations.release(at: now)
                let next = state.creations.nextRelease(after: now)
                if next == nil { state.timer = nil }
                return (going, next)
            }
            if let going, let release = release.withLock({ $0 }) { release(going) }
            guard let next else { return }
            try? await Task.sleep(until: next, clock: .continuous)
        }
    }
}
