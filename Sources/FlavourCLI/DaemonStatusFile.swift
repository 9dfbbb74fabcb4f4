import FlavourEngine
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's `status.json`, as `flavourctl set`, `unset`, `settle` and `status` read it.
struct DaemonStatusFile: Decodable {
    struct Outcome: Decodable {
        let address: String
        let requested: String
        let result: String
        let driver: String?
        let uuid: String?
        let finishedAtNs: UInt64
        let summary: String

        var succeeded: Bool { OutcomeKind(rawValue: result)?.succeeded ?? false }
    }

    /// Whether the process that wrote the file still runs.
    enum Writer: Equatable {
        case running
        /// No process has its pid any more.
        case gone
        /// Its pid belongs to another process now (the start time differs): a file left by a
        /// daemon that did not stop cleanly, whose pid was reused.
        case replaced
    }

    let pid: Int32
    /// The writer's start time (`/proc/PID/stat` field 22); absent from older daemons' files.
    let startTime: UInt64?
    let state: String
    let source: String
    /// Whether every request of the daemon's start has ended (absent from older files).
    let settled: Bool?
    let standingRequests: [String]
    let inFlight: [String]
    let stuck: [String]?
    /// The first waiting requests; `queuedCount` says how many wait in all (absent from
    /// the files of older daemons).
    let queued: [String]
    let queuedCount: Int?
    /// Standing requests' binds of new VFs held while PFs create VFs, and those PFs (absent
    /// from older files).
    let heldForVfCreations: Int?
    let creatingVfs: [String]?
    let lastOutcomes: [Outcome]
    /// Outcomes of synthetic requests no longer their device's last (absent from older files).
    let earlierOutcomes: [Outcome]?

    /// Reads the file; nil when there is none or it is unreadable.
    static func read(runDirectory: String) -> DaemonStatusFile? {
        guard let bytes = try? FileSystem.read(RunDirectory(runDirectory).statusFile) else { return nil }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try? decoder.decode(DaemonStatusFile.self, from: Data(bytes))
    }

    /// The daemon that wrote the file, as /proc tells it apart from a later process with its pid.
    var daemon: ProcessIdentity? { startTime.map { ProcessIdentity(pid: pid, startTime: $0) } }

    /// Whether the process that wrote the file is still running. Without a start time (an
    /// older daemon's file) only the pid can be asked.
    var writer: Writer {
        guard let daemon else { return kill(pid, 0) == 0 || errno == EPERM ? .running : .gone }
        if daemon.isRunning() { return .running }
        return ProcessIdentity.of(pid) == nil ? .gone : .replaced
    }

    var isAlive: Bool { writer == .running }

    /// Why the file does not describe a running daemon, for messages.
    var staleness: String {
        switch writer {
        case .running: ""
        case .gone: "its writer, pid \(pid), has exited"
        case .replaced: "pid \(pid) is another process now, not the flavourd that wrote it"
        }
    }

    /// The outcome of the request with this SYNTH_UUID, wherever it is kept.
    func outcome(uuid: String) -> Outcome? {
        lastOutcomes.first { $0.uuid == uuid } ?? earlierOutcomes?.first { $0.uuid == uuid }
    }

    static func realtimeNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
