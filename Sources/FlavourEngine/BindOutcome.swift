import FlavourCore

/// What happened to one request: the result and every attempt, with the kernel's errno.
public struct BindOutcome: Hashable, Sendable {
    public enum Result: Hashable, Sendable {
        /// Bound to the first candidate.
        case bound(driver: DriverName, module: ModuleName)
        /// Bound, after earlier candidates failed.
        case fellBack(driver: DriverName, module: ModuleName)
        /// Already on one of the flavour's drivers: left there (at most its driver_override
        /// was set to name that driver).
        case alreadyBound(driver: DriverName)
        /// Every candidate failed; the device is back on the driver it had.
        case failedRestored(previous: DriverName?)
        /// Every candidate failed and restoring the previous driver failed too.
        case failedNotRestored(previous: DriverName?, now: DriverName?)
        /// Refused before any write (unknown device, nothing to try).
        case refused(String)
        /// Back on the kernel's default driver (nil: no driver claimed it).
        case reverted(driver: DriverName?)
        /// Already on its default driver with no override: nothing was written.
        case alreadyDefault(driver: DriverName?)
        /// No default driver took the device although one exists (or a step failed); the
        /// string says why and where the device was left.
        case revertFailed(String)
        /// The device was removed while the request was carried out: nothing to undo.
        case gone

        /// A stable one-word name, as `flavourctl apply` prints it (`result` in its JSON).
        /// flavourd's journal and status.json group these coarser: `OutcomeKind`.
        public var name: String {
            switch self {
            case .bound: "bound"
            case .fellBack: "fell-back"
            case .alreadyBound: "already-bound"
            case .failedRestored: "failed-rolled-back"
            case .failedNotRestored: "failed-not-restored"
            case .refused: "refused"
            case .reverted: "reverted"
            case .alreadyDefault: "already-default"
            case .revertFailed: "revert-failed"
            case .gone: "gone"
            }
        }
    }

    public let address: PCIAddress
    /// The device's modalias when it could be read.
    public let modalias: Modalias?
    public let requested: String
    public let previousDriver: DriverName?
    public let result: Result
    public let attempts: [Attempt]

    public init(
        address: PCIAddress, modalias: Modalias? = nil, requested: String, previousDriver: DriverName?, result: Result,
        attempts: [Attempt]
    ) {
        self.address = address
        self.modalias = modalias
        self.requested = requested
        self.previousDriver = previousDriver
        self.result = result
        self.attempts = attempts
    }

    /// True when the device ended as requested.
    public var succeeded: Bool { OutcomeKind(result).succeeded }

    /// The driver the device ended on, when known.
    public var driver: DriverName? {
        switch result {
        case .bound(let driver, _), .fellBack(let driver, _), .alreadyBound(let driver): driver
        case .failedRestored(let previous): previous
        case .failedNotRestored(_, let now): now
        case .reverted(let driver), .alreadyDefault(let driver): driver
        case .refused, .revertFailed, .gone: nil
        }
    }

    /// The last errno the kernel gave, if any attempt failed.
    public var lastErrno: Int32? { attempts.last(where: { $0.errno != nil })?.errno }
}
