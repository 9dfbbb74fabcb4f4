import FlavourCore
import Testing

/// When the requests for new VFs may go: after their PFs are done creating VFs.
struct VFCreationsTests {
    static let pf1 = try! PCIAddress(parsing: "0000:01:00.0")
    static let pf2 = try! PCIAddress(parsing: "0000:03:00.0")
    static func vf(_ bus: Int, _ function: Int) -> PCIAddress { try! PCIAddress(parsing: "0000:0\(bus):00.\(function)") }
    static let timing = VFCreationTiming(quiet: .seconds(2), settle: .seconds(1), limit: .seconds(60))
    let t0 = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { t0 + .milliseconds(milliseconds) }

    /// Held while the PF creates, and all together `settle` after its `change`.
    @Test func heldUntilThePFsChangeAndSettle() throws {
        var creations = VFCreations<Int>(timing: Self.timing)
        for index in 0..<4 { creations.hold(index, vf: Self.vf(2, index), pf: Self.pf1, at: at(index * 100)) }
        #expect(creations.isCreating(Self.pf1, at: at(350)))
        #expect(creations.creating(at: at(350)) == [Self.pf1])
        #expect(creations.count == 4)
        #expect(creations.release(at: at(350)) == nil)
        creations.ended(Self.pf1, at: at(400))
        #expect(!creations.isCreating(Self.pf1, at: at(400)))
        #expect(creations.creating(at: at(400)) == [])
        #expect(creations.count == 4)
        #expect(creations.nextRelease(after: at(400)) == at(1400))
        #expect(creations.release(at: at(1399)) == nil)
        let released = creations.release(at: at(1400))
        let release = try #require(released)
        #expect(release.held == [0, 1, 2, 3])
        #expect(release.physicalFunctions == [Self.pf1])
        #expect(release.waited == .milliseconds(1400))
        #expect(release.creationsDone)
        #expect(creations.isEmpty)
        #expect(creations.nextRelease(after: at(1400)) == nil)
    }

    /// A second PF starts creating within `settle` of the first's end (a script writing
    /// several PFs in a row): everything waits for the second too.
    @Test func theNextPFsCreationKeepsEveryRequestHeld() throws {
        var creations = VFCreations<Int>(timing: Self.timing)
        creations.hold(1, vf: Self.vf(2, 0), pf: Self.pf1, at: at(0))
        creations.ended(Self.pf1, at: at(500))
        creations.hold(2, vf: Self.vf(4, 0), pf: Self.pf2, at: at(800))
        #expect(creations.release(at: at(1500)) == nil)  // pf1 settled, but pf2 creates
        creations.ended(Self.pf2, at: at(1600))
        #expect(creations.release(at: at(2599)) == nil)
        let released = creations.release(at: at(2600))
        let release = try #require(released)
        #expect(release.held == [1, 2])
        #expect(release.physicalFunctions == [Self.pf1, Self.pf2])
    }

    /// No `change` comes (a VF rescanned alone): the creation counts as ended `quiet` after
    /// its last VF, and the request goes `settle` later.
    @Test func withoutAChangeTheRequestGoesAfterQuietAndSettle() {
        var creations = VFCreations<Int>(timing: Self.timing)
        creations.hold(1, vf: Self.vf(2, 0), pf: Self.pf1, at: at(0))
        creations.hold(2, vf: Self.vf(2, 1), pf: Self.pf1, at: at(1000))
        #expect(creations.isCreating(Self.pf1, at: at(2999)))
        #expect(!creations.isCreating(Self.pf1, at: at(3000)))
        #expect(creations.nextRelease(after: at(1000)) == at(4000))
        #expect(creations.release(at: at(3999)) == nil)
        #expect(creations.release(at: at(4000))?.held == [1, 2])
    }

    /// A creation that never ends (VFs keep coming): each request goes once it waited `limit`,
    /// alone, and says the creations were not done.
    @Test func noRequestWaitsLongerThanTheLimit() throws {
        var creations = VFCreations<Int>(timing: Self.timing)
        creations.hold(1, vf: Self.vf(2, 0), pf: Self.pf1, at: at(0))
        for second in 1...60 { creations.hold(second + 1, vf: Self.vf(2, 1), pf: Self.pf1, at: at(second * 1000)) }
        // The second VF was held again and again: it keeps its first place and takes the newest request.
        let released = creations.release(at: at(60_000))
        let release = try #require(released)
        #expect(release.held == [1])
        #expect(!release.creationsDone)
        #expect(creations.count == 1)
        #expect(creations.release(at: at(60_999)) == nil)
        #expect(creations.release(at: at(61_000))?.held == [61])
    }

    /// A VF removed while held: its request is handed back and never released.
    @Test func aRemovedVFsRequestIsDropped() {
        var creations = VFCreations<Int>(timing: Self.timing)
        creations.hold(1, vf: Self.vf(2, 0), pf: Self.pf1, at: at(0))
        creations.hold(2, vf: Self.vf(2, 1), pf: Self.pf1, at: at(0))
        #expect(creations.removed(Self.vf(2, 0)) == 1)
        #expect(creations.removed(Self.vf(2, 0)) == nil)
        creations.ended(Self.pf1, at: at(100))
        #expect(creations.release(at: at(1100))?.held == [2])
    }

    /// A device still being added, its PF not known yet: held with the rest, as a creation
    /// that ended at its `add`; alone, it goes `settle` after it.
    @Test func aDeviceWhosePFIsNotKnownYetIsHeldWithTheRest() {
        var creations = VFCreations<Int>(timing: Self.timing)
        creations.hold(1, vf: Self.vf(2, 0), pf: nil, at: at(0))
        #expect(creations.nextRelease(after: at(0)) == at(1000))
        #expect(creations.release(at: at(999)) == nil)
        #expect(creations.release(at: at(1000))?.held == [1])
        // With a PF creating: it waits for that creation.
        creations.hold(2, vf: Self.vf(2, 1), pf: Self.pf1, at: at(2000))
        creations.hold(3, vf: Self.vf(2, 2), pf: nil, at: at(2100))
        #expect(creations.release(at: at(3500)) == nil)
        creations.ended(Self.pf1, at: at(3600))
        let released = creations.release(at: at(4600))
        #expect(released?.held == [2, 3])
        #expect(released?.physicalFunctions == [Self.pf1])
    }

    /// A `change` of a PF that creates nothing (any attribute's) changes nothing.
    @Test func aChangeOfAnotherPFReleasesNothing() {
        var creations = VFCreations<Int>(timing: Self.timing)
        creations.hold(1, vf: Self.vf(2, 0), pf: Self.pf1, at: at(0))
        creations.ended(Self.pf2, at: at(100))
        #expect(creations.release(at: at(1500)) == nil)
        #expect(!creations.isCreating(Self.pf2, at: at(100)))
    }
}
