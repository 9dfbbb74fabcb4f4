import FlavourCore
import FlavourEngine
import FlavourPOSIX
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Publishes what this host offers in the formats fleets already read (flavourd(8), "Fleets"):
/// Prometheus metrics for node_exporter's textfile collector (`driver_flavour.prom`) and a
/// node-feature-discovery local feature file (`driver-flavour`), each replaced atomically.
///
/// Event driven: a change (an outcome, a device added, removed, bound or unbound) asks for a
/// write, and writes come at most once a second: the first at once, the next when a second has
/// passed since the last (the clock's one timer runs only while a write is pending). Each write
/// renders the metrics and reads the kernel's VFIO registrations for the labels, and writes a
/// file only when its text changed. Whether a directory exists is asked at each write: /var may
/// be mounted, node_exporter or NFD installed, after flavourd started. The metrics file is
/// removed at a clean stop; the feature file stays, as the devices stay in VFIO mode.
public final class FleetPublisher: Sendable {
    public static let metricsFile = "driver_flavour.prom"
    public static let nodeLabelsFile = "driver-flavour"
    /// At most one write a second, per the promise to fleets (and node_exporter reads
    /// the file only when scraped, typically every 15 s or more).
    static let interval: UInt64 = 1_000_000_000

    /// What changes with every event, behind a lock held only to update or snapshot it.
    private struct Pending {
        var metrics = FleetMetrics()
        var scheduled = false
        var lastWrite: UInt64?
        var stopped = false
        /// Whether either file has a directory: without one a change only updates the metrics.
        var publishing = false
        /// Devices added or removed since the last write, whose facts the labels read again;
        /// all of them after a resync.
        var forgotten: Set<PCIAddress> = []
        var forgetAll = false
    }

    /// What the writes need, behind a lock held for a whole write, so that `stop` and a write
    /// never interleave (the metrics file is never written again after stop removed it).
    private struct Files {
        var metricsDirectory: String?
        var nodeLabelsDirectory: String?
        /// The text last written (or found there at start), per path: a write that would
        /// change nothing is skipped, so NFD relabels the node only when labels change.
        var written: [String: String] = [:]
        /// Paths whose last write failed, with the errno, so each failure is logged once.
        var failing: [String: Int32] = [:]
        var stopped = false
        var facts = NodeFeatureLabels.DeviceFacts()
    }

    private let pending = Mutex(Pending())
    private let files = Mutex(Files())
    private let sysfs: Sysfs
    private let clock: PublishClock
    private let logger: Logger
    private let version: String
    private let metricsWriteCount = Atomic<Int>(0)
    private let nodeLabelsWriteCount = Atomic<Int>(0)
    private let writeCPU = Atomic<UInt64>(0)

    public init(sysfs: Sysfs, clock: PublishClock = .system, logger: Logger, version: String = Release.version) {
        self.sysfs = sysfs
        self.clock = clock
        self.logger = logger
        self.version = version
    }

    /// How many times the metrics file, and the feature file, were written.
    public var metricsWrites: Int { metricsWriteCount.load(ordering: .relaxed) }
    public var nodeLabelsWrites: Int { nodeLabelsWriteCount.load(ordering: .relaxed) }
    /// CPU time the writes took (rendering, reading the VFIO registrations, writing), for
    /// flavourd-bench.
    public var writeCPUNanoseconds: UInt64 { writeCPU.load(ordering: .relaxed) }

    // MARK: - What changed

    /// A request's outcome, as the journal got it (OutcomeLog).
    public func record(_ request: FlavourRequest, _ outcome: RequestOutcome) {
        let now = DaemonStatus.realtimeNanoseconds()
        changed { $0.record(request, outcome, now: now) }
    }

    /// A request refused before it reached the scheduler (OutcomeLog).
    public func rejected(value: String?) {
        let now = DaemonStatus.realtimeNanoseconds()
        changed { $0.rejected(value: value, now: now) }
    }

    /// The device's sysfs write has not returned within the deadline: it counts as stuck until
    /// its request ends (its outcome) or it goes away.
    public func stuck(_ address: PCIAddress) { changed { $0.stuck(address) } }

    /// flavourd read every device's state again; `afterOverrun` when the kernel's event socket
    /// overflowed (ENOBUFS) and events were lost.
    public func resynced(afterOverrun overrun: Bool) {
        pending.withLock { $0.forgetAll = true }  // events may have been lost: read every device again
        changed { $0.resynced(afterOverrun: overrun) }
    }

    /// The devices the standing requests cover, as coldplug found them, with their flavours.
    func setCovered(_ covered: [PCIAddress: String]) { changed { $0.setCovered(covered) } }

    func deviceAdded(_ address: PCIAddress, coveredBy flavour: String?) {
        pending.withLock { _ = $0.forgotten.insert(address) }
        changed { $0.deviceAdded(address, coveredBy: flavour) }
    }

    func deviceRemoved(_ address: PCIAddress) {
        pending.withLock { _ = $0.forgotten.insert(address) }
        changed { $0.deviceRemoved(address) }
    }

    /// A device was bound or unbound (by flavourd or anyone): its VFIO mode may have changed.
    func devicesChanged() { changed { _ in } }

    /// A (re)loaded configuration: its flavours, and the directories in use. A directory that
    /// changed loses the file flavourd wrote there.
    func configure(flavours: [String], metricsDirectory: String?, nodeLabelsDirectory: String?) {
        files.withLock { files in
            if files.metricsDirectory != metricsDirectory, let old = files.metricsDirectory {
                remove(Self.path(old, Self.metricsFile), in: &files)
            }
            if files.nodeLabelsDirectory != nodeLabelsDirectory, let old = files.nodeLabelsDirectory {
                remove(Self.path(old, Self.nodeLabelsFile), in: &files)
            }
            files.metricsDirectory = metricsDirectory
            files.nodeLabelsDirectory = nodeLabelsDirectory
        }
        // Before the first write (start-up), that write follows anyway: no timer for it.
        let started = pending.withLock { pending in
            pending.metrics.setFlavours(flavours)
            pending.publishing = metricsDirectory != nil || nodeLabelsDirectory != nil
            return pending.lastWrite != nil
        }
        if started { changed { _ in } }
    }

    /// Changes the metrics and asks for a write: now if none was made in the last second,
    /// else when that second is over. One critical section: outcomes come from every bind thread.
    private func changed(_ change: (inout FleetMetrics) -> Void) {
        let delay = pending.withLock { pending -> UInt64? in
            change(&pending.metrics)
            guard pending.publishing, !pending.scheduled, !pending.stopped else { return nil }
            pending.scheduled = true
            let due = pending.lastWrite.map { $0 &+ Self.interval } ?? 0
            let now = clock.now()
            return due > now ? due - now : 0
        }
        guard let delay else { return }
        clock.schedule(delay) { self.write() }
    }

    // MARK: - Writing

    /// Writes both files as things stand now (the first write at start, and each pending one).
    public func write() {
        let start = Self.threadCPU()
        defer { writeCPU.add(Self.threadCPU() &- start, ordering: .relaxed) }
        files.withLock { files in
            guard !files.stopped else { return }
            let rendering = files.metricsDirectory != nil
            let (text, forgotten, forgetAll) = pending.withLock { pending -> (String?, Set<PCIAddress>, Bool) in
                pending.scheduled = false
                pending.lastWrite = clock.now()
                defer { (pending.forgotten, pending.forgetAll) = ([], false) }
                return (rendering ? pending.metrics.render(version: version) : nil, pending.forgotten, pending.forgetAll)
            }
            if forgetAll { files.facts = NodeFeatureLabels.DeviceFacts() }
            for address in forgotten { files.facts.forget(address) }
            if let text, let directory = files.metricsDirectory, publish(text, to: Self.path(directory, Self.metricsFile), in: &files) {
                metricsWriteCount.add(1, ordering: .relaxed)
            }
            if let directory = files.nodeLabelsDirectory {
                let labels = NodeFeatureLabels(reading: sysfs, facts: &files.facts).fileText
                if publish(labels, to: Self.path(directory, Self.nodeLabelsFile), in: &files) {
                    nodeLabelsWriteCount.add(1, ordering: .relaxed)
                }
            }
        }
    }

    /// Clean stop: no write after this one, and the metrics file goes (a stopped daemon's
    /// counters would read as current). The feature file stays: the devices stay where they are.
    public func stop() {
        pending.withLock { $0.stopped = true }
        files.withLock { files in
            files.stopped = true
            if let directory = files.metricsDirectory { remove(Self.path(directory, Self.metricsFile), in: &files) }
        }
    }

    /// Writes `text` to `path` unless it is there already; true when it wrote. A missing
    /// directory is no error (nothing reads there yet); a failed write is logged once, with
    /// what to do.
    private func publish(_ text: String, to path: String, in files: inout Files) -> Bool {
        let directory = String(path[..<path.lastIndex(of: "/")!])
        guard FileSystem.isDirectory(directory) else {
            files.written[path] = nil
            return false
        }
        if files.written[path] == nil, let bytes = try? FileSystem.read(path) {
            files.written[path] = String(decoding: bytes, as: UTF8.self)  // left by an earlier flavourd
        }
        guard files.written[path] != text else { return false }
        do {
            try FileSystem.writeAtomically(Array(text.utf8), to: path)
        } catch {
            if files.failing[path] != error.errno {
                files.failing[path] = error.errno
                var metadata: Logger.Metadata = ["path": "\(path)", "errno": "\(error.errno)", "reason": "\(error)"]
                if error.errno == EROFS {
                    metadata["fix"] = "the directory is read-only to flavourd: its sandbox (ProtectSystem=strict) makes a directory writable only if it existed when flavourd started (ReadWritePaths=); restart flavourd (systemctl restart flavourd)"
                }
                logger.warning("Cannot publish file for fleets", metadata: metadata)
            }
            return false
        }
        files.failing[path] = nil
        files.written[path] = text
        return true
    }

    private func remove(_ path: String, in files: inout Files) {
        if files.written[path] != nil { unlink(path) }
        files.written[path] = nil
    }

    static func path(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    static func threadCPU() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
