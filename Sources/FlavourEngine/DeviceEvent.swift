/// A uevent for a PCI device, as any event source delivers it.
public struct DeviceEvent: Hashable, Sendable {
    public let action: String
    /// The kernel's device name, e.g. `0000:03:00.0`.
    public let sysName: String
    public let properties: [String: String]

    public init(action: String, sysName: String, properties: [String: String]) {
        self.action = action
        self.sysName = sysName
        self.properties = properties
    }
}
