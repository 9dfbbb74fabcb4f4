import FlavourCore
import FlavourEngine
import FlavourTestKernel
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--group` is all or nothing: a group half on VFIO is the unusable state it exists to
/// avoid.
@Suite struct GroupRollbackTests {
    let fixture: GroupFixture
    var kernel: TestKernel { fixture.kernel }

    init() throws { fixture = try GroupFixture() }

    /// The first member moves, the second cannot be bound anywhere: the first goes back
    /// to its own driver and override.
    @Test func aMemberThatFailsTakesTheOthersBack() throws {
        kernel.failProbe(driver: "vfio-pci", errno: EBUSY)  // e1000e's only candidate
        let outcomes = try fixture.executor().handleGroup(
            address: GroupFixture.virtioNet, requested: .flavour(.vfio), options: RequestOptions(group: true))
        #expect(outcomes.map(\.address) == [GroupFixture.virtioNet, GroupFixture.e1000e])
        #expect(outcomes.map(\.result) == [
            .failedRestored(previous: DriverName("virtio-pci")!), .failedRestored(previous: DriverName("e1000e")!),
        ])
        #expect(outcomes[0].attempts.contains {
            $0.message == "rolled back: member 0000:03:00.1 of IOMMU group 7 failed (failed-rolled-back)"
        })
        #expect(kernel.driver(of: GroupFixture.virtioNet) == "virtio-pci")
        #expect(kernel.override(of: GroupFixture.virtioNet) == nil)
        #expect(kernel.driver(of: GroupFixture.e1000e) == "e1000e")
    }

    /// The first member fails: the second is never touched.
    @Test func membersAfterAFailureAreNotTried() throws {
        kernel.failProbe(driver: "virtio_vfio_pci", errno: EIO)
        kernel.failProbe(driver: "vfio-pci", errno: EIO)
        kernel.clearEvents()
        let outcomes = try fixture.executor().handleGroup(
            address: GroupFixture.virtioNet, requested: .flavour(.vfio), options: RequestOptions(group: true))
        #expect(outcomes[0].result == .failedRestored(previous: DriverName("virtio-pci")!))
        #expect(outcomes[1].result == .refused(
            "not tried: member 0000:03:00.0 of IOMMU group 7 failed (failed-rolled-back), so the group stays as it was"))
        #expect(!kernel.events.contains { event in
            if case .overrideWritten(GroupFixture.e1000e, _) = event { true } else { false }
        })
    }

    /// A member with no candidate at all refuses the group before any write.
    @Test func aMemberWithEveryCandidateDeniedRefusesTheGroupUpFront() throws {
        try kernel.writeConfig("50-deny.conf", "deny vfio vfio_pci:v00008086* vfio_pci\n")
        kernel.clearEvents()
        let outcomes = try fixture.executor().handleGroup(
            address: GroupFixture.virtioNet, requested: .flavour(.vfio), options: RequestOptions(group: true))
        #expect(outcomes.map(\.result) == Array(repeating: .refused(
            "IOMMU group 7 cannot be taken as a whole: 0000:03:00.1 has no candidate driver for flavour vfio (every one is denied)"),
            count: 2))
        #expect(kernel.events.isEmpty)
    }

    /// A group revert in which one member's default driver fails puts every member back on VFIO.
    @Test func aGroupRevertIsAllOrNothingToo() throws {
        let executor = try fixture.executor()
        _ = executor.handleGroup(address: GroupFixture.virtioNet, requested: .flavour(.vfio), options: RequestOptions(group: true))
        kernel.failProbe(driver: "e1000e", errno: EIO)
        let outcomes = executor.handleGroup(address: GroupFixture.virtioNet, requested: .revert, options: RequestOptions(group: true))
        #expect(outcomes.map(\.succeeded) == [false, false])
        #expect(kernel.driver(of: GroupFixture.virtioNet) == "virtio_vfio_pci")
        #expect(kernel.override(of: GroupFixture.virtioNet) == "virtio_vfio_pci")
        #expect(kernel.driver(of: GroupFixture.e1000e) == "vfio-pci")
    }

    /// A group a VFIO user holds (QEMU keeps `/dev/vfio/7` open): a group revert is refused
    /// whole, naming the holder, and writes nothing; `force` takes it back.
    @Test func aGroupRevertOfAGroupAVFIOUserHoldsIsRefusedWhole() throws {
        let executor = try fixture.executor()
        let group = RequestOptions(group: true)
        #expect(executor.handleGroup(address: GroupFixture.virtioNet, requested: .flavour(.vfio), options: group).map(\.succeeded) == [true, true])
        let pid = try kernel.startProcess("qemu", opening: ["/dev/vfio/7"])
        kernel.clearEvents()
        let refused = executor.handleGroup(address: GroupFixture.virtioNet, requested: .revert, options: group)
        for outcome in refused {
            guard case .refused(let why) = outcome.result else { Issue.record("\(outcome.result)"); continue }
            #expect(why.hasPrefix("IOMMU group 7 cannot be taken as a whole: "))
            #expect(why.contains("is held open by qemu (pid \(pid))"))
        }
        #expect(refused.count == 2)
        #expect(kernel.events.isEmpty)
        let forced = executor.handleGroup(address: GroupFixture.virtioNet, requested: .revert, options: RequestOptions(force: true, group: true))
        #expect(forced.map(\.succeeded) == [true, true])
        #expect(kernel.driver(of: GroupFixture.e1000e) == "e1000e")
    }
}
