/// The SEQNUMs of the kernel's `add` uevents the daemon acted on ahead of udevd, so that
/// udevd's copy of the same uevent (udevd forwards the kernel's SEQNUM, `src/udev/udevd.c`)
/// is dropped instead of making a second request.
///
/// Bounded: at most `capacity` SEQNUMs, the oldest forgotten first. udevd may never send a
/// copy (it dropped the event, or flavourd's udev socket overran); a forgotten SEQNUM only
/// means its late copy is handled again, as every udev `add` was before kernel adds.
public struct KernelAddSeqnums: Sendable {
    /// A few thousand adds outstanding: more than udevd's backlog at 1,000 VFs (issue 13).
    public static let defaultCapacity = 4096

    public let capacity: Int
    /// Every remembered SEQNUM, and some already matched (still in `order`, no longer in
    /// `remembered`): the ring that says which is oldest.
    private var order: [UInt64] = []
    private var next = 0
    private var remembered: Set<UInt64> = []

    public init(capacity: Int = KernelAddSeqnums.defaultCapacity) {
        precondition(capacity > 0, "a capacity of at least one SEQNUM")
        self.capacity = capacity
    }

    /// How many SEQNUMs are remembered; never more than `capacity`.
    public var count: Int { remembered.count }

    /// The kernel's `add` with this SEQNUM was handled. 0 (no SEQNUM) is not remembered.
    public mutating func handled(_ seqnum: UInt64) {
        guard seqnum != 0, !remembered.contains(seqnum) else { return }
        if order.count < capacity {
            order.append(seqnum)
        } else {
            remembered.remove(order[next])
            order[next] = seqnum
            next = (next + 1) % capacity
        }
        remembered.insert(seqnum)
    }

    /// udevd's copy of an `add` arrived: true when the kernel's own was handled (drop the
    /// copy). The SEQNUM is forgotten then: each uevent has one copy from udevd.
    public mutating func isCopy(_ seqnum: UInt64) -> Bool {
        seqnum != 0 && remembered.remove(seqnum) != nil
    }
}
