/// A uevent for a PCI device, as any event source delivers it; or the news that uevents were
/// lost (`eventsLost`), after which the daemon reads the state of sysfs again.
public struct DeviceEvent: Hashable, Sendable {
    /// Which netlink group the event came from (`lib/kobject_uevent.c` sends to group 1,
    /// "kernel"; udevd sends its processed copy to group 2, "udev").
    public enum Heard: Hashable, Sendable {
        /// After udevd ran its rules for it (tags and rule-set properties included).
        case udev
        /// The kernel's own uevent, as it was sent: no rule has run.
        case kernel
    }

    public let action: String
    /// The kernel's device name, e.g. `0000:03:00.0`.
    public let sysName: String
    public let properties: [String: String]
    /// The kernel's SEQNUM (udevd's copy carries the kernel's); 0 when unknown.
    public let seqnum: UInt64
    public let heard: Heard
    /// The source lost events before this point (the socket's receive buffer overran).
    public let eventsLost: Bool

    public init(action: String, sysName: String, properties: [String: String], seqnum: UInt64 = 0, heard: Heard = .udev) {
        self.action = action
        self.sysName = sysName
        self.properties = properties
        self.seqnum = seqnum
        self.heard = heard
        self.eventsLost = false
    }

    private init(lostFrom heard: Heard) {
        action = ""
        sysName = ""
        properties = [:]
        seqnum = 0
        self.heard = heard
        eventsLost = true
    }

    /// In the stream where events went missing: what came before it may lack some.
    public static let lost = DeviceEvent(lostFrom: .udev)

    /// Where the kernel group's monitor overran beside a udev one: the kernel's own adds went
    /// missing, but udevd's copies of them still come on the udev socket.
    public static let kernelAddsLost = DeviceEvent(lostFrom: .kernel)
}
