import FlavourCore

/// A uevent as a netlink listener receives it.
public struct KernelUevent: Hashable, Sendable {
    public let action: String
    public let address: PCIAddress
    public let properties: [String: String]
}
