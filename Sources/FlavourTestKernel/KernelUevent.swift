import FlavourCore

/// A uevent as a netlink listener receives it.
public struct KernelUevent: Hashable, Sendable {
    public let action: String
    public let address: PCIAddress
    public let properties: [String: String]
    /// Set when the kernel sends it: one more than the last uevent's.
    public internal(set) var seqnum: UInt64 = 0
}
