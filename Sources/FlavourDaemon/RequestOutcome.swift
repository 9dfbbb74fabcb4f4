import FlavourEngine

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
