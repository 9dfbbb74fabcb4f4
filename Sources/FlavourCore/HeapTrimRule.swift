/// When flavourd gives freed heap back to the kernel besides after start-up and reloads:
/// when its scheduler falls idle (nothing in flight, nothing waiting) after a burst of at
/// least `burst` outcomes since the last trim. glibc keeps what a burst freed resident (a
/// thousand requests' strings and records, about 2 MiB); never on a timer, so an idle
/// daemon does not wake, and never per request, as `malloc_trim` walks the whole heap.
public struct HeapTrimRule: Sendable {
    public let burst: Int
    /// Outcomes since the last trim.
    public private(set) var outcomes = 0

    public static let defaultBurst = 64

    public init(burst: Int = Self.defaultBurst) { self.burst = burst }

    /// A request ended.
    public mutating func outcome() { outcomes += 1 }

    /// The scheduler's queue changed: whether to trim now. True once per burst, when the
    /// scheduler is idle; the count starts again.
    public mutating func trimNow(inFlight: Int, queued: Int) -> Bool {
        guard inFlight == 0, queued == 0, outcomes >= burst else { return false }
        outcomes = 0
        return true
    }

    /// A trim happened for another reason (a reload): the count starts again.
    public mutating func trimmed() { outcomes = 0 }
}
