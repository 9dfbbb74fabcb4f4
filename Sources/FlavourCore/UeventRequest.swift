/// What a PCI uevent means to the daemon. Pure, so every property set the event source
/// can deliver is testable and fuzzable.
public enum UeventRequest: Hashable, Sendable {
    /// A flavour asked for on a device; `value` is not yet checked against known flavours.
    /// `origin` is `attribute` or `synthetic`.
    case flavour(PCIAddress, value: String, origin: RequestOrigin)
    /// A device appeared (hotplug, a new VF): standing requests may cover it.
    case added(PCIAddress, modalias: Modalias?)
    /// A device went away.
    case removed(PCIAddress)
    /// A device's `change` that asks for nothing: the one a PF gets once the kernel has
    /// created all the VFs a `sriov_numvfs` write asked for (`VFCreations`).
    case changed(PCIAddress)
    /// Nothing for the daemon (bind, unbind, move, online, offline).
    case ignored
    /// Malformed: a device name that is not a PCI address, or a bad flavour value.
    case invalid(String)

    /// The property a kernel-sent request carries (the driver_flavour module's uevent).
    /// The actions that can carry a request or change what a request applies to; every other
    /// action (bind, unbind, move, online, offline) is `.ignored`.
    public static let actions: Set<String> = ["add", "remove", "change"]

    /// The properties flavourd reads from an event: the request's value, its UUID or sequence
    /// number, the device's modalias.
    public static let keys: Set<String> = [attributeKey, syntheticKey, "SYNTH_UUID", DriverFlavourState.sequenceKey, "MODALIAS"]

    public static let attributeKey = "DRIVER_FLAVOUR"
    /// The property a synthetic uevent carries: keys must be alphanumeric
    /// (`lib/kobject_uevent.c`), so no underscore, and the kernel prefixes SYNTH_ARG_.
    public static let syntheticKey = "SYNTH_ARG_DRIVERFLAVOUR"

    /// The actions a monitor of the kernel's own group beside udevd's hears: `add`, and the
    /// `change` that tells a PF's VFs are all created (`VFCreations`).
    public static let kernelAddActions: Set<String> = ["add", "change"]

    /// The properties of the kernel's `add` a monitor beside udevd's needs: `MODALIAS` for the
    /// cheap decision, and the two request keys, only to leave such an `add` to udevd's copy.
    public static let kernelAddKeys: Set<String> = [attributeKey, syntheticKey, "MODALIAS"]

    /// Whether the kernel's own `add` or `change` (heard ahead of udevd's copy) is one the daemon
    /// acts on: only a plain hotplug, or a plain change. A synthetic uevent or an attribute
    /// write that carries a request (`echo "add UUID DRIVERFLAVOUR=vfio" > uevent`) is left to
    /// udevd's copy, which carries it too: a request is heard once, after the rules that may
    /// change it.
    public static func actsOnKernelAdd(_ properties: [String: String]) -> Bool {
        properties[attributeKey] == nil && properties[syntheticKey] == nil
    }

    /// Reads one uevent. `sysName` is the device's kernel name (`0000:03:00.0`).
    public init(action: String, sysName: String, properties: [String: String]) {
        guard Self.actions.contains(action) else { self = .ignored; return }
        guard let address = try? PCIAddress(parsing: sysName) else {
            // Cut by Unicode scalars: one Character can hold any number of combining marks.
            self = .invalid("device name '\(String(sysName.unicodeScalars.prefix(64)))' is not a PCI address")
            return
        }
        if action == "remove" {
            self = .removed(address)
            return
        }
        // A flavour may come with a change (the attribute, a synthetic uevent) or with an
        // add (a udev rule that sets ENV{DRIVER_FLAVOUR}).
        let found = properties[Self.attributeKey].map { ($0, RequestOrigin.attribute) }
            ?? properties[Self.syntheticKey].map { ($0, RequestOrigin.synthetic) }
        guard let (value, origin) = found else {
            self = action == "add"
                ? .added(address, modalias: properties["MODALIAS"].flatMap { try? Modalias(parsing: $0) })
                : .changed(address)
            return
        }
        guard value.isEmpty || Flavour.isValidName(value) else {
            self = .invalid("flavour value '\(String(value.unicodeScalars.prefix(64)))' is not 1 to 32 of a-z, 0-9, '_', '-'")
            return
        }
        self = .flavour(address, value: value, origin: origin)
    }
}
