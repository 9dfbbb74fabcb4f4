/// One uevent as libudev delivers it, copied out of the `udev_device`.
public struct UdevEvent: Sendable, Equatable {
    /// `add`, `remove`, `change`, `bind`, `unbind`, ...
    public var action: String
    /// `/sys/devices/pci0000:00/0000:00:03.0`
    public var sysPath: String
    /// `0000:00:03.0`
    public var sysName: String
    public var subsystem: String?
    /// The kernel's SEQNUM; 0 when the event carried none.
    public var seqnum: UInt64
    /// Every property of the event (ACTION, DEVPATH, PCI_SLOT_NAME, SYNTH_ARG_..., ...).
    public var properties: [String: String]

    public init(
        action: String, sysPath: String, sysName: String, subsystem: String?,
        seqnum: UInt64, properties: [String: String]
    ) {
        self.action = action
        self.sysPath = sysPath
        self.sysName = sysName
        self.subsystem = subsystem
        self.seqnum = seqnum
        self.properties = properties
    }
}
