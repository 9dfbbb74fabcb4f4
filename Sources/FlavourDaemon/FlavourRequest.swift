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
    /// For origin `attribute`: the request's sequence number in the driver_flavour module
    /// (`DRIVER_FLAVOUR_SEQNUM`), which the daemon names when it says how the request ended.
    public let sequence: UInt64?
    /// Its record in the request journal (`RequestJournal`), once accepted.
    public let id: UInt64?

    public init(
        address: PCIAddress, requested: RequestedFlavour, origin: RequestOrigin, uuid: String? = nil, options: RequestOptions = .init(),
        groupOf: PCIAddress? = nil, sequence: UInt64? = nil, id: UInt64? = nil
    ) {
        self.address = address
        self.requested = requested
        self.origin = origin
        self.uuid = uuid
        self.options = options
        self.groupOf = groupOf
        self.sequence = sequence
        self.id = id
    }

    /// The same request, recorded as `id`.
    public func recorded(as id: UInt64) -> FlavourRequest {
        FlavourRequest(
            address: address, requested: requested, origin: origin, uuid: uuid, options: options, groupOf: groupOf,
            sequence: sequence, id: id)
    }
}
