import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourTestKernel
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The scheduler's threads: never more than `maxInFlight` binds at once, a busy thread
/// takes the next request itself, and an idle scheduler keeps no thread.
@Suite struct RequestSchedulerTests {
    final class Seen: Sendable {
        let mostInFlight = Atomic<Int>(0)
        let outcomes = Mutex<[PCIAddress: [String]]>([:])
        func inFlight(_ count: Int) {
            var most = mostInFlight.load(ordering: .relaxed)
            while count > most {
                let (done, now) = mostInFlight.compareExchange(expected: most, desired: count, ordering: .relaxed)
                if done { break }
                most = now
            }
        }
        var count: Int { outcomes.withLock { $0.values.map(\.count).reduce(0, +) } }
    }

    static func scheduler(vfs: Int, maxInFlight: Int, linger: Duration) throws
        -> (RequestScheduler, TestKernel, [PCIAddress], Seen)
    {
        // The PF on nvme: the kernel makes VFs through the PF's driver (sriov_numvfs).
        let kernel = try TestKernel(modules: [.vfioPCI], loaded: [.nvme], devices: [.nvmePF("0000:01:00.0", group: 10, totalVFs: vfs)])
        try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try kernel.sysfs.write("\(vfs)", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        let loaded = try MatchTableLoader(configDirectory: kernel.configDirectory, modulesDirectory: kernel.modulesDirectory).load()
        let executor = RequestExecutor(
            sysfs: kernel.sysfs, binder: Binder(sysfs: kernel.sysfs, loader: kernel, logger: Logger(label: "t")),
            config: loaded.config, table: loaded.table, procRoot: kernel.procRoot, probe: kernel)
        let seen = Seen()
        let scheduler = RequestScheduler(
            executor: executor, maxInFlight: maxInFlight, linger: linger,
            observe: { inFlight, _ in seen.inFlight(inFlight) },
            report: { request, outcome in
                let name: String
                switch outcome {
                case .done(let bind): name = bind.result.name
                case .superseded: name = "superseded"
                case .dropped: name = "dropped"
                }
                seen.outcomes.withLock { $0[request.address, default: []].append(name) }
            })
        let vfAddresses = kernel.addresses.filter { $0.bus == 2 }
        return (scheduler, kernel, vfAddresses, seen)
    }

    @Test func neverMoreThanMaxInFlightAndEveryRequestEndsOnce() async throws {
        let (scheduler, kernel, vfs, seen) = try Self.scheduler(vfs: 64, maxInFlight: 3, linger: .milliseconds(50))
        // The binds wait in the kernel until three are there at once, so that three in
        // flight is what happened, not what the threads' timing allowed.
        final class Gate: Sendable {
            let inside = Atomic<Int>(0)
            let open = Atomic<Bool>(false)
        }
        let gate = Gate()
        kernel.beforeWrite { path in
            guard path.hasSuffix("/bind") else { return }
            gate.inside.add(1, ordering: .relaxed)
            while !gate.open.load(ordering: .acquiring) { usleep(1_000) }
        }
        for vf in vfs { scheduler.submit(FlavourRequest(address: vf, requested: .flavour(.vfio), origin: .synthetic)) }
        try await waitUntil("three binds in the kernel at once") { gate.inside.load(ordering: .relaxed) >= 3 }
        gate.open.store(true, ordering: .releasing)
        await scheduler.idle()
        #expect(seen.count == 64)
        #expect(seen.outcomes.withLock { $0.values.allSatisfy { $0 == ["bound"] } })
        #expect(seen.mostInFlight.load(ordering: .relaxed) == 3)
        #expect(scheduler.threadCount <= 3)
        #expect(vfs.allSatisfy { kernel.driver(of: $0) == "vfio-pci" })
    }

    /// Requests one after another reuse one thread.
    @Test func oneThreadServesRequestsInTurn() async throws {
        let (scheduler, _, vfs, seen) = try Self.scheduler(vfs: 8, maxInFlight: 4, linger: .seconds(60))
        for (index, vf) in vfs.enumerated() {
            scheduler.submit(FlavourRequest(address: vf, requested: .flavour(.vfio), origin: .synthetic))
            await scheduler.idle()
            #expect(seen.count == index + 1)
            #expect(scheduler.threadCount == 1)
        }
        // Stopping ends the lingering thread at once, not after its 60 s.
        await scheduler.stop()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while scheduler.threadCount > 0, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(scheduler.threadCount == 0)
    }

    /// An idle scheduler keeps no thread once the linger is over.
    @Test func theThreadEndsAfterTheLinger() async throws {
        let (scheduler, _, vfs, _) = try Self.scheduler(vfs: 1, maxInFlight: 4, linger: .milliseconds(50))
        scheduler.submit(FlavourRequest(address: vfs[0], requested: .flavour(.vfio), origin: .synthetic))
        await scheduler.idle()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while scheduler.threadCount > 0, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(scheduler.threadCount == 0)
    }

    /// Several requests for one device while it is being bound: the newest waits, the ones
    /// between are superseded, and the device ends as the newest asked.
    @Test func theNewestWaitingRequestForADeviceWins() async throws {
        let (scheduler, kernel, vfs, seen) = try Self.scheduler(vfs: 1, maxInFlight: 2, linger: .milliseconds(50))
        let vf = vfs[0]
        // The first bind waits in the kernel until the other requests are in.
        let held = Atomic<Bool>(true)
        let entered = Atomic<Bool>(false)
        kernel.beforeWrite { path in
            guard path.hasSuffix("/bind") else { return }
            entered.store(true, ordering: .releasing)
            while held.load(ordering: .acquiring) { usleep(1_000) }
        }
        scheduler.submit(FlavourRequest(address: vf, requested: .flavour(.vfio), origin: .synthetic))
        while !entered.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(1)) }
        scheduler.submit(FlavourRequest(address: vf, requested: .revert, origin: .synthetic))
        scheduler.submit(FlavourRequest(address: vf, requested: .flavour(.vfio), origin: .synthetic))
        scheduler.submit(FlavourRequest(address: vf, requested: .revert, origin: .synthetic))
        held.store(false, ordering: .releasing)
        await scheduler.idle()
        #expect(seen.outcomes.withLock { $0[vf] } == ["superseded", "superseded", "bound", "reverted"])
        #expect(seen.mostInFlight.load(ordering: .relaxed) == 1)
        #expect(kernel.driver(of: vf) == nil)  // its PF has autoprobe off: no driver is the default
    }
}
