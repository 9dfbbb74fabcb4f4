import FlavourCore
import FlavourEngine

/// One request the daemon holds: a device, what is asked of it, and where it came from.
public struct FlavourRequest: Hashable, Sendable {
    public let address: PCIAddress
    public let requested: RequestedFlavour
    public let origin: RequestOrigin
    /// The synthetic uevent's SYNTH_UUID, which `flavourctl set` waits for.
    public let uuid: String?
    /// `force` and `group`, from the standing request that made it.
    public let options: RequestOptions
    /// For origin `group`: the device whose request took this one along.
    public let groupOf: PCIAddress?

    public init(
        address: PCIAddress, requested: RequestedFlavour, origin: RequestOrigin, uuid: String? = nil, options: RequestOptions = .init(),
        groupOf: PCIAddress? = nil
    ) {
        self.address = address
        self.requested = requested
        self.origin = origin
        self.uuid = uuid
        self.options = options
        self.groupOf = groupOf
    }
}

/// How a request ended: exactly one per request.
public enum RequestOutcome: Hashable, Sendable {
    /// Carried out by the binder.
    case done(BindOutcome)
    /// Replaced by a newer request for the same device before it started.
    case superseded
    /// Not carried out: the device went away, or the daemon is stopping.
    case dropped(String)

    /// As the journal and status.json name it.
    public var kind: OutcomeKind {
        switch self {
        case .done(let bind): OutcomeKind(bind.result)
        case .superseded: .superseded
        case .dropped: .dropped
        }
    }
}
