/// flavourd's runtime directory (`--run-dir`, `/run/driver-flavour` by default) and what
/// it keeps there; flavourctl reads the same places.
public struct RunDirectory: Hashable, Sendable {
    public let path: String

    public init(_ path: String = DefaultPaths.runDirectory) { self.path = path }

    /// What `flavourctl status` and `set` read: the daemon's state and the last outcome per device.
    public var statusFile: String { path + "/status.json" }
    /// The crash journal (`InFlightJournal`), shared by flavourd and `flavourctl apply`.
    public var inFlight: String { path + "/inflight" }
    /// The request journal: every request flavourd accepted and has not answered yet.
    public var requests: String { path + "/requests" }
    /// One empty file per PF whose VF autoprobe flavourd turned off (`VFAutoprobe`).
    public var autoprobeOff: String { path + "/autoprobe-off" }
}
