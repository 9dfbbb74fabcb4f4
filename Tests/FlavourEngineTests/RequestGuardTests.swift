import FlavourCore
@testable import FlavourEngine
import FlavourTestKernel
import InMemoryLogging
import Logging
import Testing

/// The one guard every path asks (`RequestGuard`): `protect` rules, which nothing overrides,
/// then the in-use guard as far as the request takes the device.
@Suite struct RequestGuardTests {
    /// Each selector form names the device: by address, modalias, interface name or MAC.
    @Test(arguments: ["0000:00:04.*", "pci:v00008086d000010D3*", "enp0s4", "52:54:00:AA:BB:04"])
    func aProtectedDeviceIsRefusedEvenWithForce(selector: String) throws {
        let fixture = try Fixture(config: "protect \(selector)\n")
        let kernel = fixture.kernel
        try kernel.setInterface("enp0s4", up: true, mac: "52:54:00:aa:bb:04")
        kernel.clearEvents()
        let executor = try fixture.executor()
        let outcome = executor.handle(address: Fixture.e1000e, requested: .flavour(.vfio), options: RequestOptions(force: true))
        let rule = try #require(executor.config.protections.first)
        #expect(outcome.result == .refused("0000:00:04.0 is protected by \(rule): it is never moved, --force or not"))
        #expect(rule.description
            == "protect \(selector.hasPrefix("pci:") ? selector : selector.lowercased()) (\(kernel.configDirectory)/50-test.conf:1)")
        #expect(kernel.events.isEmpty)
        #expect(kernel.driver(of: Fixture.e1000e) == "e1000e")
        // Another device is not protected by it.
        #expect(executor.handle(address: Fixture.virtioNet, requested: .flavour(.vfio)).succeeded)
    }

    /// A revert moves the device too (unbind, reprobe): refused as well.
    @Test func aProtectedDeviceIsNotRevertedEither() throws {
        let fixture = try Fixture()
        #expect(try fixture.apply(Fixture.e1000e).succeeded)
        try fixture.kernel.writeConfig("50-test.conf", "protect 0000:00:04.0\n")
        let outcome = try fixture.executor().handle(address: Fixture.e1000e, requested: .revert, options: RequestOptions(force: true))
        guard case .refused(let why) = outcome.result else { Issue.record("\(outcome.result)"); return }
        #expect(why.contains("is protected by protect 0000:00:04.0"))
        #expect(fixture.kernel.driver(of: Fixture.e1000e) == "vfio-pci")
    }

    /// A group with a protected member moves as a whole or not at all: not at all.
    @Test func aGroupWithAProtectedMemberIsRefusedWhole() throws {
        let kernel = try TestKernel(
            modules: [.vfioPCI], loaded: [.virtioPCI, .e1000e],
            devices: [.virtioNet("0000:03:00.0", group: 7), .e1000e("0000:03:00.1", group: 7)])
        try kernel.writeConfig("50-test.conf", "protect 0000:03:00.1\n")
        kernel.clearEvents()
        let outcomes = try Fixture.executor(kernel).handleGroup(
            address: try PCIAddress(parsing: "0000:03:00.0"), requested: .flavour(.vfio), options: RequestOptions(force: true, group: true))
        #expect(outcomes.map(\.result) == Array(repeating: .refused(
            "IOMMU group 7 cannot be taken as a whole: 0000:03:00.1 is protected by protect 0000:03:00.1 (\(kernel.configDirectory)/50-test.conf:1): it is never moved, --force or not"),
            count: 2))
        #expect(kernel.events.isEmpty)
    }

    /// A rule naming an interface looks at the interfaces the device has now: an unbound
    /// NIC has none (driver-flavour.conf(5) says to name such a device by address).
    @Test func anInterfaceRuleCannotNameAnUnboundDevice() throws {
        let fixture = try Fixture(config: "protect enp0s4\n")
        #expect(try fixture.apply(Fixture.e1000e).succeeded)
        #expect(try fixture.executor().requestGuard.protection(of: try fixture.kernel.sysfs.pciDevice(Fixture.e1000e)) == nil)
    }

    /// What each request looks at: a flavour everything, nothing when the device is on one
    /// of its drivers already; a revert off a VFIO driver only
    /// the device's open nodes; a revert off an override-pinned host driver everything;
    /// a revert with nothing to unbind, nothing.
    @Test func howFarEachRequestTakesTheDevice() throws {
        let fixture = try Fixture()
        let guardian = try fixture.executor().requestGuard
        let kernel = fixture.kernel
        func scope(_ requested: RequestedFlavour) throws -> InUseGuard.Scope? {
            guardian.scope(of: requested, on: try kernel.sysfs.pciDevice(Fixture.e1000e))
        }
        #expect(try scope(.flavour(.vfio)) == .everything)
        #expect(try scope(.revert) == nil)
        try kernel.sysfs.write("e1000e", to: "bus/pci/devices/0000:00:04.0/driver_override")
        #expect(try scope(.revert) == .everything)
        try kernel.sysfs.write("\n", to: "bus/pci/devices/0000:00:04.0/driver_override")
        #expect(try fixture.apply(Fixture.e1000e).succeeded)
        #expect(try scope(.revert) == .openNodes)
        #expect(try scope(.flavour(.vfio)) == nil)
    }
}
