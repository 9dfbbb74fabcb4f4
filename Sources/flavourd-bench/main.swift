import FlavourCore
import FlavourDaemon
import FlavourEngine
import FlavourPlatform
import FlavourTestKernel
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// flavourd-bench: the daemon's figures (CPU per device, idle RSS, idle wake-ups). Part 1 runs the daemon's services in
// this process against the test kernel with 1,000 VFs and measures the time from the first
// request to the last verified bind and the daemon's own CPU per device (process CPU minus
// the simulated kernel's). Part 2 starts the real flavourd binary against an idle
// temporary tree and reads its RSS and its wake-ups. It prints figures; it fails only
// when something does not work.

struct Options {
    var vfs = 1000
    var maxInFlight = 8
    var flavourd: String? = nil
    var idleSeconds = 30
    var json = false
    /// Publish the fleet files (metrics, node labels) during the storm, as flavourd does.
    var fleet = true

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--vfs": vfs = Int(iterator.next() ?? "") ?? vfs
            case "--max-in-flight": maxInFlight = Int(iterator.next() ?? "") ?? maxInFlight
            case "--flavourd": flavourd = iterator.next()
            case "--idle-seconds": idleSeconds = Int(iterator.next() ?? "") ?? idleSeconds
            case "--json": json = true
            case "--no-fleet": fleet = false
            default:
                print("usage: flavourd-bench [--vfs N] [--max-in-flight N] [--flavourd PATH] [--idle-seconds N] [--no-fleet] [--json]")
                exit(2)
            }
        }
    }
}

func cpuNanoseconds() -> UInt64 {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func ns(_ t: timeval) -> UInt64 { UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1000 }
    return ns(usage.ru_utime) + ns(usage.ru_stime)
}

/// Counts outcome entries (the ones with a MESSAGE_ID), formats nothing.
final class OutcomeCounter: Sendable {
    let count = Atomic<Int>(0)
    /// Outcomes other than "bound", kept whole to say what went wrong if the run fails.
    let unusual = Mutex<[String]>([])
    struct Handler: LogHandler {
        let counter: OutcomeCounter
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            guard let metadata = event.metadata, metadata["message_id"] != nil else { return }
            counter.count.add(1, ordering: .relaxed)
            if event.message != OutcomeKind.bound.message {
                let fields = metadata.keys.sorted().map { "\($0)=\(metadata[$0]!)" }.joined(separator: " ")
                counter.unusual.withLock { $0.append("\(event.message) \(fields)") }
            }
        }
    }
}

struct StormResult {
    let vfs: Int
    let seconds: Double
    let processCPU: UInt64
    let kernelCPU: UInt64
    var daemonMicrosecondsPerDevice: Double { Double(processCPU - min(processCPU, kernelCPU)) / 1000 / Double(vfs) }
    /// The fleet files' writer during the storm: CPU, and the files it wrote; nil without them.
    var fleet: (cpu: UInt64, metricsWrites: Int, labelWrites: Int, oneWrite: UInt64)?
    /// The daemon's operations on the tree during the storm, by kind, the requests' own
    /// `uevent` writes taken out.
    var accesses: [SysfsAccess: Int] = [:]
    /// This process once the daemon is idle after the storm (the daemon and the simulated
    /// kernel together): RSS, and the malloc heap held and in use, in KiB.
    var memory: (rss: Int, heapHeld: Int, heapInUse: Int) = (0, 0, 0)
}

/// The malloc heap this process holds (arena and mmapped chunks) and what of it is in use, in KiB.
func heapKiB() -> (held: Int, inUse: Int) {
    let bytes = Heap.bytes()
    return (bytes.held / 1024, bytes.inUse / 1024)
}

func threadCPU() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// The daemon's services in this process on the test kernel, ready; outcomes counted.
func startService(
    on kernel: TestKernel, _ options: Options
) async throws -> (FlavourService, Task<Void, any Error>, OutcomeCounter) {
    let counter = OutcomeCounter()
    let notifier = RecordingNotifier()
    var settings = DaemonSettings(
        sysfsRoot: kernel.sysfsRoot, modulesDirectory: kernel.modulesDirectory, configDirectory: kernel.configDirectory,
        runDirectory: kernel.root + "/run", maxInFlight: options.maxInFlight, procRoot: kernel.procRoot)
    if options.fleet {
        for name in ["textfile", "features.d"] { mkdir(kernel.root + "/" + name, 0o755) }
        settings.metricsDirectory = .fixed(.path(kernel.root + "/textfile"))
        settings.nodeLabelsDirectory = .fixed(.path(kernel.root + "/features.d"))
    }
    let service = FlavourService(
        settings: settings,
        source: TestEventSource(kernel: kernel), makeLoader: { _ in kernel }, writer: kernel, probe: kernel, notifier: notifier,
        releaseFreeMemory: Heap.releaseFreeMemory,
        logger: Logger(label: "bench") { _ in OutcomeCounter.Handler(counter: counter) })
    let task = Task { try await service.run() }
    while !notifier.isReady { try await Task.sleep(for: .milliseconds(2)) }
    return (service, task, counter)
}

func storm(_ options: Options) async throws -> StormResult {
    let kernel = try TestKernel(
        modules: [.vfioPCI], loaded: [.nvme], devices: [.nvmePF("0000:01:00.0", group: 10, totalVFs: options.vfs)])
    try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
    try kernel.sysfs.write("\(options.vfs)", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
    let vfs = kernel.addresses.filter { $0 != (try! PCIAddress(parsing: "0000:01:00.0")) }
    let (service, task, counter) = try await startService(on: kernel, options)

    let clock = ContinuousClock()
    let accesses0 = kernel.accesses
    let cpu0 = cpuNanoseconds(), kernel0 = kernel.kernelCPUNanoseconds
    let start = clock.now
    for (index, vf) in vfs.enumerated() {
        let hex = String(index, radix: 16)
        try kernel.sysfs.write(
            "change 00000000-0000-0000-0000-\(String(repeating: "0", count: 12 - hex.count) + hex) DRIVERFLAVOUR=vfio",
            to: "bus/pci/devices/\(vf)/uevent")
    }
    // Coarse polling: the wait itself must not show up as daemon CPU.
    while counter.count.load(ordering: .relaxed) < vfs.count { try await Task.sleep(for: .milliseconds(5)) }
    let elapsed = clock.now - start
    let cpu = cpuNanoseconds() - cpu0, kernelCPU = kernel.kernelCPUNanoseconds - kernel0
    var accesses = kernel.accesses.merging(accesses0) { $0 - $1 }
    accesses[.write, default: 0] -= vfs.count  // the requests themselves (`uevent`), not the daemon's
    let bound = vfs.filter { kernel.driver(of: $0) == "vfio-pci" }.count
    guard bound == vfs.count else {
        print("flavourd-bench: only \(bound) of \(vfs.count) VFs ended on vfio-pci")
        for vf in vfs where kernel.driver(of: vf) != "vfio-pci" {
            print("  \(vf): driver \(kernel.driver(of: vf) ?? "none"), driver_override \(kernel.override(of: vf) ?? "(null)")")
        }
        for line in counter.unusual.withLock({ $0 }) { print("  outcome: \(line)") }
        exit(1)
    }
    var fleet: (cpu: UInt64, metricsWrites: Int, labelWrites: Int, oneWrite: UInt64)? = nil
    if options.fleet {
        // The write the last outcomes wait for comes within a second of them, after the CPU
        // figure above was taken: the writer counts its own CPU, that write included.
        try await Task.sleep(for: .milliseconds(1100))
        let publisher = service.fleet
        let (stormCPU, metricsWrites, labelWrites) = (publisher.writeCPUNanoseconds, publisher.metricsWrites, publisher.nodeLabelsWrites)
        // A trickle's cost: one outcome a second or slower makes a write each, with every VF in VFIO mode.
        let rounds = 20
        var oneWrite: UInt64 = 0
        for _ in 0..<rounds {
            publisher.rejected(value: nil)  // a change to the metrics (not a resync, which reads every device anew)
            let before = threadCPU()
            publisher.write()
            oneWrite += threadCPU() - before
        }
        fleet = (stormCPU, metricsWrites, labelWrites, oneWrite / UInt64(rounds))
    } else {
        try await Task.sleep(for: .milliseconds(1100))  // status.json's last write, the heap's trim
    }
    let heap = heapKiB()
    let memory = (rss: rssKiB(getpid()), heapHeld: heap.held, heapInUse: heap.inUse)
    service.shutdown()
    try await task.value
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return StormResult(
        vfs: vfs.count, seconds: seconds, processCPU: cpu, kernelCPU: kernelCPU, fleet: fleet, accesses: accesses, memory: memory)
}

/// The daemon's CPU for events no request covers, in nanoseconds per VF, the simulated
/// kernel's own CPU taken out.
struct QuietResult {
    let vfs: Int
    let add: UInt64
    let bind: UInt64
    let remove: UInt64
}

/// Events flavourd has no request for: VFs appear (`add`), get bound by someone else
/// (`bind`), and go (`unbind`, `remove`), while a standing request covers other devices. Each
/// phase ends with a synthetic request to another device, whose outcome says that every event
/// before it has been handled (the daemon handles events in order).
func quiet(_ options: Options) async throws -> QuietResult {
    let pf = try PCIAddress(parsing: "0000:01:00.0")
    let kernel = try TestKernel(
        modules: [.vfioPCI], loaded: [.nvme, .e1000e],
        devices: [.nvmePF(pf.description, group: 10, totalVFs: options.vfs), .e1000e("0000:00:04.0", group: 4)])
    try kernel.writeConfig("50-bench.conf", "request vfio 0000:09:00.*\n")
    try kernel.sysfs.write("0", to: "bus/pci/devices/\(pf)/sriov_drivers_autoprobe")
    let (service, task, counter) = try await startService(on: kernel, options)
    var sentinels = 0
    /// Runs `body`, waits until the daemon has handled what it caused; its CPU, kernel's out.
    func phase(_ body: () throws -> Void) async throws -> UInt64 {
        let cpu0 = cpuNanoseconds(), kernel0 = kernel.kernelCPUNanoseconds
        try body()
        sentinels += 1
        try kernel.sysfs.write("change 00000000-0000-0000-0000-00000000000\(sentinels) DRIVERFLAVOUR=vfio", to: "bus/pci/devices/0000:00:04.0/uevent")
        while counter.count.load(ordering: .relaxed) < sentinels { try await Task.sleep(for: .milliseconds(5)) }
        let cpu = cpuNanoseconds() - cpu0, kernelCPU = kernel.kernelCPUNanoseconds - kernel0
        return (cpu - min(cpu, kernelCPU)) / UInt64(options.vfs)
    }
    _ = try await phase {}  // the sentinel's first bind (loads vfio_pci), not counted
    let empty = try await phase {}  // what a sentinel alone costs, taken out of each phase
    let add = try await phase { try kernel.sysfs.write("\(options.vfs)", to: "bus/pci/devices/\(pf)/sriov_numvfs") }
    let vfs = kernel.addresses.filter { kernel.driver(of: $0) == nil }
    let bind = try await phase {
        for vf in vfs {
            try kernel.sysfs.write("vfio-pci", to: "bus/pci/devices/\(vf)/driver_override")
            try kernel.sysfs.write(vf.description, to: "bus/pci/drivers/vfio-pci/bind")
        }
    }
    let remove = try await phase { try kernel.sysfs.write("0", to: "bus/pci/devices/\(pf)/sriov_numvfs") }
    service.shutdown()
    try await task.value
    func less(_ value: UInt64) -> UInt64 { value - min(value, empty) }
    return QuietResult(vfs: options.vfs, add: less(add), bind: less(bind), remove: less(remove))
}

struct IdleResult {
    let rssKiB: Int
    /// RssAnon and RssFile: the heap and stacks, and the pages of the binary and libraries.
    var anonKiB = 0, fileKiB = 0
    let wakeupsPerMinute: Double
    let seconds: Int
}

/// Context switches of every thread: each is a wake-up (a sleeping thread that ran).
func contextSwitches(_ pid: pid_t) -> Int {
    var total = 0
    for task in Sysfs(root: "/proc/\(pid)/task").list("") {
        guard let text = try? Sysfs(root: "/proc/\(pid)/task/\(task)").read("status") else { continue }
        for line in text.split(separator: "\n") where line.hasPrefix("voluntary_ctxt_switches") || line.hasPrefix("nonvoluntary_ctxt_switches") {
            total += Int(line.split(separator: ":").last!.trimmingCharacters(in: " \t")) ?? 0
        }
    }
    return total
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        String(self.drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

func rssKiB(_ pid: pid_t, _ field: String = "VmRSS") -> Int {
    guard let text = try? Sysfs(root: "/proc/\(pid)").read("status") else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Int(line.dropFirst(field.count + 1).trimmingCharacters(in: " \tkB")) ?? 0
    }
    return 0
}

/// The real flavourd, idle in a small tree; or, with `vfs`, after a standing request for that
/// many VFs, which it carries out at start. Its writes go to the tree's files, not to this
/// process's simulated kernel, so those binds fail at verification and are restored: a
/// request's whole path and its outcome, which is what stays in the daemon's memory.
func flavourdIdle(_ options: Options, binary: String, vfs: Int = 0) async throws -> IdleResult {
    // A small tree, idle: the daemon listens to kernel uevents (no udevd here) and waits.
    let kernel: TestKernel
    if vfs > 0 {
        kernel = try TestKernel(
            modules: [.vfioPCI], loaded: [.e1000e, .nvme, .vfioPCI],
            devices: [.e1000e("0000:00:04.0", group: 4), .nvmePF("0000:01:00.0", group: 10, totalVFs: vfs)])
        try kernel.sysfs.write("0", to: "bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe")
        try kernel.sysfs.write("\(vfs)", to: "bus/pci/devices/0000:01:00.0/sriov_numvfs")
        try kernel.writeConfig("50-bench.conf", "request vfio 0000:0[2-9]:*.*\n")
    } else {
        kernel = try TestKernel(modules: [.vfioPCI], loaded: [.e1000e], devices: [.e1000e("0000:00:04.0", group: 4)])
    }
    let run = kernel.root + "/run"
    // The fleet files go into the tree, never this machine's default directories; with
    // --no-fleet nowhere, so that two runs give the RSS the writers add.
    var fleetDirectories = ["-", "-"]
    if options.fleet {
        fleetDirectories = [kernel.root + "/textfile", kernel.root + "/features.d"]
        for directory in fleetDirectories where mkdir(directory, 0o755) != 0 {
            print("flavourd-bench: cannot make \(directory): errno \(errno)")
            exit(1)
        }
    }
    var pid: pid_t = 0
    let arguments = [binary, "--sysfs-root", kernel.sysfsRoot, "--modules-dir", kernel.modulesDirectory,
                     "--config-dir", kernel.configDirectory, "--run-dir", run, "--source", "kernel",
                     // With VFs every bind fails verification (see above): not worth a line each.
                     "--log-level", vfs > 0 ? "critical" : "warning",
                     "--metrics-dir", fleetDirectories[0], "--node-labels-dir", fleetDirectories[1]]
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var environment: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/bin:/bin"), nil]
    defer { environment.forEach { free($0) } }
    guard posix_spawn(&pid, binary, nil, nil, &argv, &environment) == 0 else {
        print("flavourd-bench: cannot start \(binary)")
        exit(1)
    }
    defer {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
    // Ready when status.json says so; with VFs, once the start's requests have ended.
    let awaited = vfs > 0 ? "\"settled\":true" : "\"state\":\"ready\""
    for _ in 0..<(vfs > 0 ? 6000 : 500) {
        if let text = try? Sysfs(root: run).read("status.json"), text.contains(awaited) { break }
        try await Task.sleep(for: .milliseconds(20))
    }
    try await Task.sleep(for: .seconds(1))  // let start-up settle
    if options.fleet, (try? FileSystem.read(fleetDirectories[0] + "/driver_flavour.prom")) == nil {
        print("flavourd-bench: \(binary) wrote no \(fleetDirectories[0])/driver_flavour.prom at start")
        exit(1)
    }
    let before = contextSwitches(pid)
    try await Task.sleep(for: .seconds(options.idleSeconds))
    let after = contextSwitches(pid)
    let rss = rssKiB(pid)
    return IdleResult(rssKiB: rss, anonKiB: rssKiB(pid, "RssAnon"), fileKiB: rssKiB(pid, "RssFile"), wakeupsPerMinute: Double(after - before) * 60 / Double(options.idleSeconds), seconds: options.idleSeconds)
}

/// `value` with `digits` decimals, right-aligned in `width` (no Foundation here).
func fixed(_ value: Double, _ digits: Int, width: Int = 9) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        text += String(repeating: "0", count: max(0, digits - decimals))
        if digits == 0 { text = String(text[..<dot]) }
    }
    return String(repeating: " ", count: max(0, width - text.count)) + text
}

/// The figures, printed. Runs on flavourd's own executors (below), as the daemon does.
func benchMain() async throws {
    let options = Options(Array(CommandLine.arguments.dropFirst()))
    let result = try await storm(options)
    let perDevice = result.daemonMicrosecondsPerDevice
    print("flavourd-bench: \(result.vfs) VFs, synthetic requests, test kernel, max \(options.maxInFlight) in flight")
    print("  first request to last verified bind  \(fixed(result.seconds, 3)) s    (\(fixed(result.seconds * 1e6 / Double(result.vfs), 1, width: 0)) µs per device)")
    print("  daemon CPU per device (minus kernel) \(fixed(perDevice, 1)) µs   target < 100 µs: \(perDevice < 100 ? "met" : "missed")")
    print("  simulated kernel CPU per device      \(fixed(Double(result.kernelCPU) / 1000 / Double(result.vfs), 1)) µs")
    if let fleet = result.fleet {
        print("  fleet files (metrics, node labels)   \(fleet.metricsWrites) and \(fleet.labelWrites) writes in the storm, \(fixed(Double(fleet.cpu) / 1e6, 2, width: 0)) ms CPU in all")
        print("  fleet files' CPU per outcome         \(fixed(Double(fleet.cpu) / 1000 / Double(result.vfs), 1)) µs   (their own; the last write comes after the figure above)")
        print("  one write, \(result.vfs) devices in VFIO mode \(fixed(Double(fleet.oneWrite) / 1000, 1)) µs   (an outcome's cost when they come a second or more apart)")
    } else {
        print("  fleet files                          off (--no-fleet)")
    }
    let counts = SysfsAccess.allCases.map { "\($0.name) \(fixed(Double(result.accesses[$0] ?? 0) / Double(result.vfs), 1, width: 0))" }
    print("BENCH test-kernel \(result.vfs) VFs, synthetic requests: a VF's operations: \(counts.joined(separator: ", "))")
    let (rss, held, inUse) = result.memory
    print("BENCH test-kernel \(result.vfs) VFs, idle after the storm: bench process RSS \(fixed(Double(rss) / 1024, 1, width: 0)) MiB (daemon and simulated kernel); malloc heap held \(fixed(Double(held) / 1024, 2, width: 0)) MiB, in use \(fixed(Double(inUse) / 1024, 2, width: 0)) MiB")
    let quiet = try await quiet(options)
    print("flavourd-bench: \(quiet.vfs) VFs no request covers (a standing request covers other devices)")
    print("  daemon CPU per add                   \(fixed(Double(quiet.add) / 1000, 1)) µs")
    print("  daemon CPU per bind (someone else's) \(fixed(Double(quiet.bind) / 1000, 1)) µs")
    print("  daemon CPU per unbind + remove       \(fixed(Double(quiet.remove) / 1000, 1)) µs")
    if let monitor = MonitorBench.run(cycles: options.vfs) {
        print("libudev monitor, kernel source, \(monitor.events) real uevents (tun add, move, remove; private network namespace)")
        print("  CPU per event, every event copied whole    \(fixed(monitor.whole / 1000, 1)) µs")
        print("  CPU per event, flavourd's actions and keys \(fixed(monitor.filtered / 1000, 1)) µs")
        print("  CPU per event, flavourd's PCI monitor      \(fixed(monitor.pci / 1000, 1)) µs   (a virtual device: dropped in the kernel)")
    } else {
        print("(monitor figures need a private network namespace: run under `unshare -n`, as root)")
    }
    if let binary = options.flavourd {
        let idle = try await flavourdIdle(options, binary: binary)
        let mib = Double(idle.rssKiB) / 1024
        print("flavourd idle: \(binary), \(idle.seconds) s, kernel uevent source, fleet files \(options.fleet ? "on (in the tree)" : "off")")
        print("  RSS                                  \(fixed(mib, 1)) MiB (\(idle.rssKiB) KiB)  target < 12 MiB: \(mib < 12 ? "met" : "missed")")
        print("  wake-ups per minute                  \(fixed(idle.wakeupsPerMinute, 1))      target 0 (no watchdog set): \(idle.wakeupsPerMinute == 0 ? "met" : "missed")")
        print("BENCH test-kernel flavourd idle RSS \(fixed(mib, 1, width: 0)) MiB (\(idle.rssKiB) KiB; anonymous \(idle.anonKiB) KiB, files \(idle.fileKiB) KiB)")
        let busy = try await flavourdIdle(options, binary: binary, vfs: options.vfs)
        let after = Double(busy.rssKiB) / 1024
        print("BENCH test-kernel flavourd RSS after \(options.vfs) VFs (a standing request at start, then \(busy.seconds) s idle) \(fixed(after, 1, width: 0)) MiB (\(busy.rssKiB) KiB, \(busy.rssKiB * 1024) bytes; anonymous \(busy.anonKiB) KiB, files \(busy.fileKiB) KiB)  target < 12 MB: \(busy.rssKiB * 1024 < 12_000_000 ? "met" : "missed")")
    } else {
        print("(idle figures need --flavourd PATH to a built flavourd)")
    }
}

// The daemon's executors and its one malloc arena: the CPU figure is the daemon's as it runs.
Heap.useOneArena()
GlobalExecutors.install()
Task {
    do { try await benchMain() } catch {
        print("flavourd-bench: \(error)")
        exit(1)
    }
    exit(0)
}
GlobalExecutors.runMainLoop()
