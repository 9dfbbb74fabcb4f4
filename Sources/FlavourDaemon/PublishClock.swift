#if canImport(Glibc)
import Glibc
#endif

/// The time and the one timer `FleetPublisher` uses to write at most once a second: the
/// monotonic clock and a task that sleeps while a write is pending (an idle daemon has no
/// timer). Tests give a clock of their own, which moves only when told, so what they count
/// never depends on how fast a thread runs.
public struct PublishClock: Sendable {
    /// Monotonic nanoseconds.
    public let now: @Sendable () -> UInt64
    /// Runs `work` once, `delay` nanoseconds from now.
    public let schedule: @Sendable (_ delay: UInt64, _ work: @escaping @Sendable () -> Void) -> Void

    public init(now: @escaping @Sendable () -> UInt64, schedule: @escaping @Sendable (UInt64, @escaping @Sendable () -> Void) -> Void) {
        self.now = now
        self.schedule = schedule
    }

    public static let system = PublishClock(
        now: {
            var spec = timespec()
            clock_gettime(CLOCK_MONOTONIC, &spec)
            return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
        },
        schedule: { delay, work in
            Task {
                if delay > 0 { try? await Task.sleep(for: .nanoseconds(Int64(min(delay, UInt64(Int64.max))))) }
                work()
            }
        })
}
