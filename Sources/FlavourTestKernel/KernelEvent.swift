import FlavourCore

/// Something the simulated kernel did, for tests to assert on.
public enum KernelEvent: Hashable, Sendable {
    case probe(PCIAddress, driver: String, errno: Int32?)
    case bound(PCIAddress, driver: String)
    case unbound(PCIAddress, driver: String)
    case moduleLoaded(String)
    case overrideWritten(PCIAddress, value: String)
}
