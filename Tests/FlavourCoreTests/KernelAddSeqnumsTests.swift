import FlavourCore
import Testing

/// `isFirst` outside `#expect`, whose expansion cannot call a mutating member.
private func first(_ seqnums: inout KernelAddSeqnums, _ seqnum: UInt64, kernel: Bool) -> Bool {
    seqnums.isFirst(seqnum, fromKernel: kernel)
}

@Suite struct KernelAddSeqnumsTests {
    /// udevd's copy of a kernel add acted on is dropped once; another SEQNUM, or none, is not.
    @Test func udevdsCopyIsDroppedOnce() {
        var seqnums = KernelAddSeqnums()
        do { let isFirst = first(&seqnums, 41, kernel: true); #expect(isFirst) }
        do { let isFirst = first(&seqnums, 42, kernel: true); #expect(isFirst) }
        do { let isFirst = first(&seqnums, 42, kernel: false); #expect(!isFirst) }
        do { let isFirst = first(&seqnums, 41, kernel: false); #expect(!isFirst) }
        #expect(seqnums.count == 0)
        do { let isFirst = first(&seqnums, 0, kernel: true); #expect(isFirst) }
        do { let isFirst = first(&seqnums, 0, kernel: false); #expect(isFirst) }
        #expect(seqnums.count == 0)
    }

    /// udevd's copy read ahead of the kernel's own (two sockets, drained one after the other):
    /// udevd's is acted on, and the kernel's that follows is the copy.
    @Test func theKernelsAddAfterUdevdsCopyIsDropped() {
        var seqnums = KernelAddSeqnums()
        do { let isFirst = first(&seqnums, 7, kernel: false); #expect(isFirst) }
        do { let isFirst = first(&seqnums, 7, kernel: true); #expect(!isFirst) }
        #expect(seqnums.count == 0)
    }

    /// No copy ever comes (udevd dropped the events, or a socket overran): memory stays at the
    /// capacity, and the oldest SEQNUMs go first.
    @Test func staysBoundedWhenNoCopyComes() {
        var seqnums = KernelAddSeqnums(capacity: 100)
        for seqnum in UInt64(1)...10_000 {
            _ = seqnums.isFirst(seqnum, fromKernel: seqnum % 3 != 0)
            #expect(seqnums.count <= 100)
        }
        #expect(seqnums.count == 100)
        do { let isFirst = first(&seqnums, 9_902, kernel: false); #expect(!isFirst) }  // the kernel's came first
        do { let isFirst = first(&seqnums, 9_999, kernel: true); #expect(!isFirst) }  // udevd's came first
        #expect(seqnums.count == 98)
        do { let isFirst = first(&seqnums, 9_900, kernel: false); #expect(isFirst) }  // forgotten
    }

    /// Copies matched in between leave slots that the next adds take, oldest first: a SEQNUM
    /// acted on later is never pushed out before one acted on earlier.
    @Test func matchedSlotsAreReusedInOrder() {
        var seqnums = KernelAddSeqnums(capacity: 3)
        for seqnum in UInt64(1)...3 { _ = seqnums.isFirst(seqnum, fromKernel: true) }
        do { let isFirst = first(&seqnums, 1, kernel: false); #expect(!isFirst) }
        _ = seqnums.isFirst(4, fromKernel: true)  // takes 1's slot
        #expect(seqnums.count == 3)
        _ = seqnums.isFirst(5, fromKernel: true)  // pushes 2 out
        do { let isFirst = first(&seqnums, 2, kernel: false); #expect(isFirst) }  // forgotten; pushes 3 out
        #expect(seqnums.count == 3)
        do { let isFirst = first(&seqnums, 4, kernel: false); #expect(!isFirst) }
        do { let isFirst = first(&seqnums, 5, kernel: false); #expect(!isFirst) }
        do { let isFirst = first(&seqnums, 2, kernel: true); #expect(!isFirst) }
        #expect(seqnums.count == 0)
    }

    /// The same group repeating a SEQNUM (a source that repeats itself) is not a copy.
    @Test func aRepeatFromOneGroupIsNotACopy() {
        var seqnums = KernelAddSeqnums(capacity: 2)
        do { let isFirst = first(&seqnums, 7, kernel: true); #expect(isFirst) }
        do { let isFirst = first(&seqnums, 7, kernel: true); #expect(isFirst) }
        do { let isFirst = first(&seqnums, 7, kernel: false); #expect(!isFirst) }
    }
}
