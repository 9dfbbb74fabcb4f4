/// What a request asks of a device: a flavour, or a revert to the default driver.
public enum RequestedFlavour: Hashable, Sendable, CustomStringConvertible {
    case flavour(Flavour)
    case revert

    public var description: String {
        switch self {
        case .flavour(let flavour): flavour.name
        case .revert: Flavour.revertName
        }
    }
}
