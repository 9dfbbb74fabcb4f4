import FlavourCore

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
