import FlavourCore
import Testing

/// `isCopy` outside `#expect`, whose expansion cannot call a mutating member.
private func copy(_ seqnums: inout KernelAddSeqnums, _ seqnum: UInt64) -> Bool { seqnums.isCopy(seqnum) }

@Suite struct KernelAddSeqnumsTests {
    /// udevd's copy of a handled kernel add is a copy once; another SEQNUM, or none, is not.
    @Test func aCopyIsRecognisedOnce() {
        var seqnums = KernelAddSeqnums()
        seqnums.handled(41)
        seqnums.handled(42)
        do { let copied = copy(&seqnums, 40); #expect(!copied) }
        do { let copied = copy(&seqnums, 42); #expect(copied) }
        do { let copied = copy(&seqnums, 42); #expect(!copied) }
        do { let copied = copy(&seqnums, 41); #expect(copied) }
        #expect(seqnums.count == 0)
        seqnums.handled(0)
        do { let copied = copy(&seqnums, 0); #expect(!copied) }
        #expect(seqnums.count == 0)
    }

    /// udevd never sends a copy (it dropped the events): memory stays at the capacity, and the
    /// oldest SEQNUMs go first.
    @Test func staysBoundedWhenNoCopyComes() {
        var seqnums = KernelAddSeqnums(capacity: 100)
        for seqnum in UInt64(1)...10_000 {
            seqnums.handled(seqnum)
            #expect(seqnums.count <= 100)
        }
        #expect(seqnums.count == 100)
        do { let copied = copy(&seqnums, 9_900); #expect(!copied) }
        do { let copied = copy(&seqnums, 9_901); #expect(copied) }
        do { let copied = copy(&seqnums, 10_000); #expect(copied) }
        #expect(seqnums.count == 98)
    }

    /// Copies matched in between leave slots that the next adds take, oldest first: a SEQNUM
    /// handled later is never pushed out before one handled earlier.
    @Test func matchedSlotsAreReusedInOrder() {
        var seqnums = KernelAddSeqnums(capacity: 3)
        seqnums.handled(1)
        seqnums.handled(2)
        seqnums.handled(3)
        do { let copied = copy(&seqnums, 1); #expect(copied) }
        seqnums.handled(4)  // takes 1's slot
        #expect(seqnums.count == 3)
        seqnums.handled(5)  // pushes 2 out
        do { let copied = copy(&seqnums, 2); #expect(!copied) }
        do { let copied = copy(&seqnums, 3); #expect(copied) }
        do { let copied = copy(&seqnums, 4); #expect(copied) }
        do { let copied = copy(&seqnums, 5); #expect(copied) }
        #expect(seqnums.count == 0)
    }

    /// The same SEQNUM handled twice (a source that repeats itself) takes one slot.
    @Test func aRepeatTakesOneSlot() {
        var seqnums = KernelAddSeqnums(capacity: 2)
        seqnums.handled(7)
        seqnums.handled(7)
        seqnums.handled(8)
        do { let copied = copy(&seqnums, 7); #expect(copied) }
        do { let copied = copy(&seqnums, 8); #expect(copied) }
    }
}
