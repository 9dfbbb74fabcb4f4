/// The SEQNUMs of `add` uevents the daemon acted on while it hears both the kernel's group and
/// udevd's, so that the other group's copy of the same uevent (udevd forwards the kernel's
/// SEQNUM, `src/udev/udevd.c`) is dropped instead of making a second request.
///
/// Whichever copy comes first is acted on. The kernel's usually does: udevd sends its copy only
/// after running its rules. But the source reads two sockets, and while it drains udevd's, a
/// quick udevd's copy of an `add` can be read before the kernel's own, which arrived after the
/// kernel socket was last drained (seen at 1,000 VFs with the daemon slowed by strace).
///
/// Bounded: at most `capacity` SEQNUMs, the oldest forgotten first. A copy may never come
/// (udevd dropped the event; a socket overran); a forgotten SEQNUM only means its late copy is
/// handled again, as every `add` was before the daemon heard both groups.
public struct KernelAddSeqnums: Sendable {
    /// A few thousand adds outstanding: more than udevd's backlog at 1,000 VFs (issue 13).
    public static let defaultCapacity = 4096

    public let capacity: Int
    /// Every remembered SEQNUM, and some already matched (still in `order`, no longer in
    /// `remembered`): the ring that says which is oldest.
    private var order: [UInt64] = []
    private var next = 0
    /// SEQNUM -> whether the first copy came from the kernel's group.
    private var remembered: [UInt64: Bool] = [:]

    public init(capacity: Int = KernelAddSeqnums.defaultCapacity) {
        precondition(capacity > 0, "a capacity of at least one SEQNUM")
        self.capacity = capacity
    }

    /// How many SEQNUMs are remembered; never more than `capacity`.
    public var count: Int { remembered.count }

    /// An `add` with this SEQNUM was heard from the kernel's group (`fromKernel`) or from
    /// udevd's: true when it is the first copy (act on it), false when the other group's copy
    /// was acted on already (drop it; the SEQNUM is forgotten then: each group sends one).
    /// 0 (no SEQNUM) is always a first copy and never remembered.
    public mutating func isFirst(_ seqnum: UInt64, fromKernel: Bool) -> Bool {
        guard seqnum != 0 else { return true }
        if let first = remembered[seqnum] {
            guard first != fromKernel else { return true }  // the same group again: not a copy
            remembered[seqnum] = nil
            return false
        }
        if order.count < capacity {
            order.append(seqnum)
        } else {
            remembered[order[next]] = nil
            order[next] = seqnum
            next = (next + 1) % capacity
        }
        remembered[seqnum] = fromKernel
        return true
    }
}
