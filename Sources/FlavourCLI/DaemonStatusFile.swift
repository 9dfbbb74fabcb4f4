import FlavourEngine
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's `status.json`, as `flavourctl set`, `unset` and `status` read it.
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

    let pid: Int32
    let state: String
    let source: String
    let standingRequests: [String]
    let inFlight: [String]
    /// The first waiting requests; `queuedCount` says how many wait in all (absent from
    /// the files of older daemons).
    let queued: [String]
    let queuedCount: Int?
    let lastOutcomes: [Outcome]

    /// Reads the file; nil when there is none or it is unreadable.
    static func read(runDirectory: String) -> DaemonStatusFile? {
        guard let bytes = try? FileSystem.read(RunDirectory(runDirectory).statusFile) else { return nil }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try? decoder.decode(DaemonStatusFile.self, from: Data(bytes))
    }

    /// Whether the process that wrote it still runs.
    var isAlive: Bool { kill(pid, 0) == 0 || errno == EPERM }

    static func realtimeNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
