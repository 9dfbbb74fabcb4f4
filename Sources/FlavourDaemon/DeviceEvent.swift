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

/// Where requests come from: libudev in production, the test kernel in tests.
public protocol DeviceEventSource: Sendable {
    /// What status shows, e.g. `udev` or `kernel`.
    var name: String { get }
    /// Starts receiving; events sent after this returns are never lost.
    func start() throws -> AsyncStream<DeviceEvent>
    func stop()
}
