/// A uevent for a PCI device, as any event source delivers it; or the news that uevents were
/// lost (`eventsLost`), after which the daemon reads the state of sysfs again.
public struct DeviceEvent: Hashable, Sendable {
    public let action: String
    /// The kernel's device name, e.g. `0000:03:00.0`.
    public let sysName: String
    public let properties: [String: String]
    /// The source lost events before this point (the socket's receive buffer overran).
    public let eventsLost: Bool

    public init(action: String, sysName: String, properties: [String: String]) {
        self.action = action
        self.sysName = sysName
        self.properties = properties
        self.eventsLost = false
    }

    private init(lost: Void) {
        action = ""
        sysName = ""
        properties = [:]
        eventsLost = true
    }

    /// In the stream where events went missing: what came before it may lack some.
    public static let lost = DeviceEvent(lost: ())
}
