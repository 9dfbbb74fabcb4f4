/// When status.json is written next: soon after a change (`minimumDelay`), but never sooner
/// after the last write than `share` times that write's own duration. A small file (one
/// device) is written 50 ms after a `flavourctl set`; a file of a thousand devices, which
/// takes milliseconds to render and write under TCG, is written less often, so the status
/// file costs at most 1 / (share + 1) of the time however large it grows. Pure: the caller
/// reads the clock (monotonic nanoseconds) and sleeps.
public struct StatusWritePacing: Sendable {
    /// The wait after a change, so that the changes of one request (queued, started,
    /// ended) make one write.
    public let minimumDelay: UInt64
    /// The pause after a write, in multiples of the write's own duration.
    public let share: UInt64
    /// When the last write ended and how long it took; nil before the first.
    public private(set) var lastWrite: (end: UInt64, duration: UInt64)?

    public static let defaultMinimumDelay: UInt64 = 50_000_000
    /// The status file's writes take at most a fortieth of the time during a burst (a
    /// thousand-VF burst under TCG lasts minutes: a tenth would be milliseconds a VF).
    public static let defaultShare: UInt64 = 39

    public init(minimumDelay: UInt64 = Self.defaultMinimumDelay, share: UInt64 = Self.defaultShare) {
        self.minimumDelay = minimumDelay
        self.share = share
    }

    /// When to write for a change seen at `now` (the first since the last write).
    public func writeTime(changedAt now: UInt64) -> UInt64 {
        let soonest = now &+ minimumDelay
        guard let lastWrite else { return soonest }
        return max(soonest, lastWrite.end &+ share &* lastWrite.duration)
    }

    /// A write ran from `start` to `end`.
    public mutating func wrote(from start: UInt64, to end: UInt64) {
        lastWrite = (end, end &- min(start, end))
    }
}
