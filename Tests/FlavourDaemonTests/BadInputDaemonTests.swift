import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Foundation
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The test kernel's events plus events a test makes up: the udev event source can hand
/// the daemon any device name and any property set, which the test kernel never sends.
final class InjectingEventSource: DeviceEventSource, Sendable {
    let name = "test"
    private let kernelSource: TestEventSource
    private let continuation = Mutex<AsyncStream<DeviceEvent>.Continuation?>(nil)

    init(kernel: TestKernel) { kernelSource = TestEventSource(kernel: kernel) }

    func start() throws -> AsyncStream<DeviceEvent> {
        let kernelEvents = try kernelSource.start()
        let (stream, continuation) = AsyncStream<DeviceEvent>.makeStream(bufferingPolicy: .unbounded)
        self.continuation.withLock { $0 = continuation }
        Task { for await event in kernelEvents { continuation.yield(event) } }
        return stream
    }

    func inject(_ event: DeviceEvent) { _ = continuation.withLock { $0?.yield(event) } }

    func stop() {
        kernelSource.stop()
        continuation.withLock { $0?.finish() }
    }
}

/// The daemon rows of docs/bad-input.md: what flavourd does with each malformed event.
@Suite(.serialized) struct BadInputDaemonTests {
    struct Daemon {
        let kernel: TestKernel
        let source: InjectingEventSource
        let notifier = RecordingNotifier()
        let logs = DaemonLog()
        let service: FlavourService

        init(kernel: TestKernel, maxInFlight: Int = 4) {
            self.kernel = kernel
            source = InjectingEventSource(kernel: kernel)
            var settings = DaemonSettings(
                sysfsRoot: kernel.sysfsRoot, modulesDirectory: kernel.modulesDirectory, configDirectory: kernel.configDirectory,
                runDirectory: kernel.root + "/run", maxInFlight: maxInFlight)
            settings.procRoot = kernel.procRoot
            service = FlavourService(
                settings: settings, source: source, makeLoader: { _ in kernel }, writer: kernel, probe: kernel, notifier: notifier,
                logger: logs.logger)
        }

        func run(_ body: () async throws -> Void) async throws {
            let task = Task { try await service.run() }
            try await waitUntil("READY=1") { notifier.isReady }
            try await waitUntil("the start's requests ended") { service.status.isSettled }
            try await body()
            service.shutdown()
            try await task.value
        }

        func waitForOutcomes(_ count: Int) async throws {
            try await waitUntil("\(count) outcomes (have \(logs.outcomeCount))") { logs.outcomeCount >= count }
        }
    }

    static let thirtyThree = String(repeating: "a", count: 33)

    /// Each event is rejected: one outcome with MESSAGE_ID ...a18 naming the device and the
    /// reason, and not one write to the kernel.
    @Test(arguments: [
        (DeviceEvent(action: "change", sysName: "card0", properties: ["DRIVER_FLAVOUR": "vfio"]),
         "device name 'card0' is not a PCI address", "card0"),
        (DeviceEvent(action: "change", sysName: "../../0000:00:03.0", properties: ["SYNTH_ARG_DRIVERFLAVOUR": "vfio"]),
         "device name '../../0000:00:03.0' is not a PCI address", "../../0000:00:03.0"),
        (DeviceEvent(action: "add", sysName: "0000:00:03.0 ", properties: [:]),
         "device name '0000:00:03.0 ' is not a PCI address", "0000:00:03.0 "),
        (DeviceEvent(action: "change", sysName: "0000:00:03.0", properties: ["DRIVER_FLAVOUR": "vfio;reboot"]),
         "flavour value 'vfio;reboot' is not 1 to 32 of a-z, 0-9, '_', '-'", "0000:00:03.0"),
        (DeviceEvent(action: "change", sysName: "0000:00:03.0", properties: ["DRIVER_FLAVOUR": "VFIO"]),
         "flavour value 'VFIO' is not 1 to 32 of a-z, 0-9, '_', '-'", "0000:00:03.0"),
        (DeviceEvent(action: "change", sysName: "0000:00:03.0", properties: ["SYNTH_ARG_DRIVERFLAVOUR": thirtyThree]),
         "flavour value '\(thirtyThree)' is not 1 to 32 of a-z, 0-9, '_', '-'", "0000:00:03.0"),
        (DeviceEvent(action: "change", sysName: "0000:00:03.0", properties: ["DRIVER_FLAVOUR": "VFIO", "SYNTH_ARG_DRIVERFLAVOUR": "vfio"]),
         "flavour value 'VFIO' is not 1 to 32 of a-z, 0-9, '_', '-'", "0000:00:03.0"),
        (DeviceEvent(action: "change", sysName: "0000:00:03.0", properties: ["DRIVER_FLAVOUR": "nosuch"]),
         "unknown flavour 'nosuch'; known: vfio, none", "0000:00:03.0"),
        (DeviceEvent(action: "change", sysName: "0000:00:03.0", properties: ["DRIVER_FLAVOUR": "-"]),
         "unknown flavour '-'; known: vfio, none", "0000:00:03.0"),
        (DeviceEvent(action: "change", sysName: "0000:00:09.0", properties: ["SYNTH_ARG_DRIVERFLAVOUR": "vfio"]),
         "no PCI device 0000:00:09.0 (nothing at /sys/bus/pci/devices/0000:00:09.0); check the address with lspci -D", "0000:00:09.0"),
    ])
    func rejectedAndNothingWritten(event: DeviceEvent, reason: String, slot: String) async throws {
        let kernel = try makeKernel()
        let daemon = Daemon(kernel: kernel)
        try await daemon.run {
            kernel.clearEvents()
            daemon.source.inject(event)
            try await daemon.waitForOutcomes(1)
            try await Task.sleep(for: .milliseconds(20))  // a write after the rejection would show by now
        }
        #expect(kernel.events.isEmpty, "\(kernel.events)")
        #expect(kernel.driver(of: virtioNet) == "virtio-pci")
        #expect(daemon.logs.outcomes.count == 1)
        let outcome = try #require(daemon.logs.outcomes.first)
        #expect(outcome.message == "Request rejected")
        #expect(outcome.level == .warning)
        #expect(outcome.metadata["message_id"] == "3c5e1e0a9d7f4b2a8f61c2d4b7e90a18")
        #expect(outcome.metadata["reason"] == reason)
        #expect(outcome.metadata["pci.slot_name"] == slot)
    }

    /// A name of one letter and 1,000 combining marks is one Character: the log fields were cut
    /// by Characters and carried all of it.
    @Test func rejectedLogFieldsStayShortWhateverTheInput() async throws {
        let kernel = try makeKernel()
        let daemon = Daemon(kernel: kernel)
        let long = "x" + String(repeating: "\u{301}", count: 1000)
        try await daemon.run {
            daemon.source.inject(DeviceEvent(action: "change", sysName: long, properties: ["DRIVER_FLAVOUR": long]))
            daemon.source.inject(DeviceEvent(action: "change", sysName: "0000:00:03.0", properties: ["DRIVER_FLAVOUR": long]))
            try await daemon.waitForOutcomes(2)
        }
        for outcome in daemon.logs.outcomes {
            for key in ["pci.slot_name", "driver.flavour", "reason"] {
                #expect((outcome.metadata[key]?.unicodeScalars.count ?? 0) <= 200, "\(key) has \(outcome.metadata[key]?.unicodeScalars.count ?? 0) scalars")
            }
        }
    }

    /// Events the daemon has nothing to do with, even with a bad device name, are not logged.
    @Test func eventsWithoutARequestAreIgnored() async throws {
        let kernel = try makeKernel()
        let daemon = Daemon(kernel: kernel)
        try await daemon.run {
            kernel.clearEvents()
            daemon.source.inject(DeviceEvent(action: "bind", sysName: "card0", properties: ["DRIVER_FLAVOUR": "VFIO"]))
            daemon.source.inject(DeviceEvent(action: "change", sysName: "0000:00:03.0", properties: ["DRIVERFLAVOUR": "vfio"]))
            daemon.source.inject(DeviceEvent(action: "add", sysName: "0000:00:09.0", properties: ["MODALIAS": "garbage"]))
            daemon.source.inject(DeviceEvent(action: "remove", sysName: "0000:00:09.0", properties: [:]))
            // A marker that is logged, so the ones before it have been handled.
            daemon.source.inject(DeviceEvent(action: "change", sysName: "card0", properties: ["DRIVER_FLAVOUR": "vfio"]))
            try await daemon.waitForOutcomes(1)
        }
        #expect(daemon.logs.outcomes.map { $0.metadata["pci.slot_name"] } == ["card0"])
        #expect(kernel.events.isEmpty)
    }

    /// An empty value means revert, like `none`.
    @Test func emptyValueReverts() async throws {
        let kernel = try makeKernel()
        let daemon = Daemon(kernel: kernel)
        try await daemon.run {
            daemon.source.inject(DeviceEvent(action: "change", sysName: "0000:00:04.0", properties: ["SYNTH_ARG_DRIVERFLAVOUR": "vfio"]))
            try await daemon.waitForOutcomes(1)
            daemon.source.inject(DeviceEvent(action: "change", sysName: "0000:00:04.0", properties: ["SYNTH_ARG_DRIVERFLAVOUR": ""]))
            try await daemon.waitForOutcomes(2)
        }
        #expect(daemon.logs.outcomes.map(\.message) == ["Device bound to flavour driver", "Device reverted to default driver"])
        #expect(kernel.driver(of: e1000e) == "e1000e")
    }

    /// A request waiting behind another when its device goes away is dropped (MESSAGE_ID ...a1a)
    /// and never carried out.
    @Test func deviceRemovedWhileItsRequestWaitsIsDropped() async throws {
        let kernel = try makeKernel()
        // 03.0's bind waits in the kernel until 04.0's request is dropped: one bind at a
        // time, so 04.0's request waits behind it whatever the threads' timing.
        final class Gate: Sendable { let open = Atomic<Bool>(false) }
        let gate = Gate()
        kernel.beforeWrite { path in
            guard path.hasSuffix("drivers/virtio_vfio_pci/bind") else { return }
            while !gate.open.load(ordering: .acquiring) { usleep(1_000) }
        }
        let daemon = Daemon(kernel: kernel, maxInFlight: 1)
        try await daemon.run {
            try kernel.sysfs.write("change \(uuid(1)) DRIVERFLAVOUR=vfio", to: "bus/pci/devices/0000:00:03.0/uevent")
            try kernel.sysfs.write("change \(uuid(2)) DRIVERFLAVOUR=vfio", to: "bus/pci/devices/0000:00:04.0/uevent")
            // Events are handled in order: 03.0 is in flight (held in its bind), 04.0 waits.
            kernel.removeDevice(e1000e)
            try await daemon.waitForOutcomes(1)
            gate.open.store(true, ordering: .releasing)
            try await daemon.waitForOutcomes(2)
        }
        let dropped = try #require(daemon.logs.outcomes.first { $0.metadata["pci.slot_name"] == "0000:00:04.0" })
        #expect(dropped.message == "Request dropped")
        #expect(dropped.metadata["message_id"] == "3c5e1e0a9d7f4b2a8f61c2d4b7e90a1a")
        #expect(dropped.metadata["reason"] == "device 0000:00:04.0 was removed")
        #expect(daemon.logs.outcomes.count == 2)
    }

    /// The test kernel's model of the driver_flavour attribute refuses what the real module
    /// refuses (EINVAL, no uevent); the real module's own rows are Tests/vm/scenarios/80-driver-flavour-module.sh.
    @Test(arguments: ["", "\n", "VFIO", "vfio;rm", "vfio pci", String(repeating: "a", count: 33), "vfio\n\n",
                      "-", "-\n", "--vfio", "-VFIO", "-" + String(repeating: "a", count: 33)])
    func driverFlavourAttributeRefusesBadValuesWithEINVAL(value: String) throws {
        let kernel = try makeKernel(flavourAttribute: true)
        kernel.clearEvents()
        do {
            try kernel.sysfs.write(value, to: "bus/pci/devices/0000:00:04.0/driver_flavour")
            Issue.record("accepted \(value.debugDescription)")
        } catch {
            #expect(error.errno == EINVAL)
        }
        #expect(kernel.events.isEmpty)
        #expect(try kernel.sysfs.read("bus/pci/devices/0000:00:04.0/driver_flavour") == "")
    }

    /// The model's writes as the module has them: a request is stored pending with the next
    /// sequence number and sent with it; `done N` and `clear N` finish only the pending
    /// request N (EBUSY otherwise); `-NAME` clears only a finished NAME; none of those three
    /// sends a uevent.
    @Test func driverFlavourAttributeSequenceNumbers() throws {
        let kernel = try makeKernel(flavourAttribute: true)
        let attribute = "bus/pci/devices/0000:00:04.0/driver_flavour"
        let thirtyTwo = String(repeating: "a", count: 32)
        try kernel.sysfs.write(thirtyTwo + "\n", to: attribute)
        #expect(try kernel.sysfs.read(attribute) == thirtyTwo + " pending 1")
        final class Heard: Sendable { let uevents = Mutex<[KernelUevent]>([]) }
        let heard = Heard()
        kernel.subscribe { uevent in heard.uevents.withLock { $0.append(uevent) } }
        func refused(_ value: String, _ errno: Int32) {
            do {
                try kernel.sysfs.write(value, to: attribute)
                Issue.record("accepted \(value)")
            } catch {
                #expect(error.errno == errno, "\(value)")
            }
        }
        // A pending request is the user's: no -NAME clears it, no other sequence number finishes it.
        for wrong in ["-wrong", "-none", "-" + thirtyTwo, "done 2", "clear 0", "done 18446744073709551615"] { refused(wrong, EBUSY) }
        for bad in ["done x", "done -1", "done  1", "finish 1", "done 1 2", "clear 99999999999999999999999"] { refused(bad, EINVAL) }
        #expect(try kernel.sysfs.read(attribute) == thirtyTwo + " pending 1")
        try kernel.sysfs.write("done 1\n", to: attribute)
        #expect(try kernel.sysfs.read(attribute) == thirtyTwo)
        refused("done 1", EBUSY)  // finished already
        refused("-" + String(thirtyTwo.dropLast()), EBUSY)
        try kernel.sysfs.write("-" + thirtyTwo + "\n", to: attribute)
        #expect(try kernel.sysfs.read(attribute) == "")
        refused("-" + thirtyTwo, EBUSY)  // empty now
        // The next request is number 2; `clear` drops it, `none` is cleared by `done`.
        #expect(heard.uevents.withLock { $0 }.isEmpty)
        try kernel.sysfs.write("vfio", to: attribute)
        #expect(try kernel.sysfs.read(attribute) == "vfio pending 2")
        #expect(heard.uevents.withLock { $0 }.map(\.properties) == [["DRIVER_FLAVOUR": "vfio", "DRIVER_FLAVOUR_SEQNUM": "2"]])
        try kernel.sysfs.write("clear 2", to: attribute)
        #expect(try kernel.sysfs.read(attribute) == "")
        try kernel.sysfs.write("none", to: attribute)
        #expect(try kernel.sysfs.read(attribute) == "none pending 3")
        try kernel.sysfs.write("done 3", to: attribute)
        #expect(try kernel.sysfs.read(attribute) == "")
        #expect(heard.uevents.withLock { $0 }.count == 2)  // the two requests, none for done, clear or -NAME
    }

    /// A corrupt modules.builtin.alias.bin is a warning naming the file; the daemon starts and
    /// serves requests from modules.alias.
    @Test func corruptBuiltinIndexIsAWarningNotAFailure() async throws {
        let kernel = try makeKernel()
        #expect(FileManager.default.createFile(atPath: kernel.modulesDirectory + "/modules.builtin.alias.bin", contents: Data([0xB0, 0x07, 0, 0, 0, 2, 0, 0, 0, 0, 0, 12])))
        try String("alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\nalias vfio_pci:v00001AF4d00001041sv*sd*bc*sc*i* virtio_vfio_pci\nalias broken\n").write(toFile: kernel.modulesDirectory + "/modules.alias", atomically: true, encoding: .utf8)
        let daemon = Daemon(kernel: kernel)
        try await daemon.run {
            daemon.source.inject(DeviceEvent(action: "change", sysName: "0000:00:03.0", properties: ["SYNTH_ARG_DRIVERFLAVOUR": "vfio"]))
            try await daemon.waitForOutcomes(1)
        }
        #expect(kernel.driver(of: virtioNet) == "virtio_vfio_pci")
        let skipped = daemon.logs.all.filter { $0.message == "Match table line skipped" }.compactMap { $0.metadata["reason"] }
        #expect(skipped.contains("\(kernel.modulesDirectory)/modules.builtin.alias.bin: not a kmod index: bad magic"), "\(skipped)")
        #expect(skipped.contains("\(kernel.modulesDirectory)/modules.alias:3: expected 'alias PATTERN MODULE', skipped: alias broken"), "\(skipped)")
    }

    /// A broken config at start-up: flavourd logs it at critical and exits with the error, before READY.
    @Test func brokenConfigAtStartupIsFatalBeforeReady() async throws {
        let kernel = try makeKernel(config: "variant vfio vfio_pci:v* bad/module\n")
        let daemon = Daemon(kernel: kernel)
        await #expect(throws: (any Error).self) { try await daemon.service.run() }
        #expect(!daemon.notifier.isReady)
        let critical = daemon.logs.all.first { $0.level == .critical }
        #expect(critical?.message == "Configuration unusable")
        #expect(critical?.metadata["reason"]?.hasSuffix("50-test.conf:1: 'bad/module' is not a module name: use letters, digits, '_' and '-'") == true)
    }
}
