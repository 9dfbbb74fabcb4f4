import FlavourCore

/// One entry of a simulated driver's id table (`struct pci_device_id`): nil fields are
/// PCI_ANY_ID; `overrideOnly` is what `PCI_DRIVER_OVERRIDE_DEVICE_VFIO` sets.
public struct TestPCIID: Hashable, Sendable {
    public var vendor: UInt32?
    public var device: UInt32?
    public var subsystemVendor: UInt32?
    public var subsystemDevice: UInt32?
    /// (class, mask) as in `PCI_DEVICE_CLASS`.
    public var classMatch: (UInt32, UInt32)?
    public var overrideOnly: Bool

    public init(vendor: UInt32?, device: UInt32?, subsystemVendor: UInt32? = nil, subsystemDevice: UInt32? = nil,
                classMatch: (UInt32, UInt32)? = nil, overrideOnly: Bool = false) {
        self.vendor = vendor
        self.device = device
        self.subsystemVendor = subsystemVendor
        self.subsystemDevice = subsystemDevice
        self.classMatch = classMatch
        self.overrideOnly = overrideOnly
    }

    /// `PCI_DRIVER_OVERRIDE_DEVICE_VFIO(vendor, device)`.
    public static func vfio(_ vendor: UInt32, _ device: UInt32) -> TestPCIID {
        TestPCIID(vendor: vendor, device: device, overrideOnly: true)
    }

    /// `pci_match_one_device`.
    func matches(_ device: TestDevice) -> Bool {
        (vendor == nil || vendor == device.vendor) && (self.device == nil || self.device == device.device)
            && (subsystemVendor == nil || subsystemVendor == device.subsystemVendor)
            && (subsystemDevice == nil || subsystemDevice == device.subsystemDevice)
            && (classMatch.map { ($0.0 ^ device.classCode) & $0.1 == 0 } ?? true)
    }

    /// The line depmod would write for this id (file2alias.c, `do_pci_entry`).
    func aliasLine(module: String) -> String {
        func field(_ tag: String, _ value: UInt32?) -> String {
            tag + (value.map { String($0, radix: 16, uppercase: true).leftPadded(8) } ?? "*")
        }
        var text = (overrideOnly ? "vfio_pci:" : "pci:") + field("v", vendor) + field("d", device)
            + field("sv", subsystemVendor) + field("sd", subsystemDevice)
        let (cls, mask) = classMatch ?? (0, 0)
        for (tag, shift) in [("bc", 16), ("sc", 8), ("i", 0)] as [(String, UInt32)] {
            let byteMask = (mask >> shift) & 0xFF
            text += tag + (byteMask == 0xFF ? String((cls >> shift) & 0xFF, radix: 16, uppercase: true).leftPadded(2) : "*")
        }
        if !text.hasSuffix("*") { text += "*" }
        return "alias \(text) \(module)"
    }

    public static func == (a: TestPCIID, b: TestPCIID) -> Bool {
        a.vendor == b.vendor && a.device == b.device && a.subsystemVendor == b.subsystemVendor
            && a.subsystemDevice == b.subsystemDevice && a.classMatch?.0 == b.classMatch?.0
            && a.classMatch?.1 == b.classMatch?.1 && a.overrideOnly == b.overrideOnly
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(vendor)
        hasher.combine(device)
        hasher.combine(overrideOnly)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
