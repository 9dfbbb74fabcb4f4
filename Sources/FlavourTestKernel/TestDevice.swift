import FlavourCore

/// A PCI function in the simulated kernel.
public struct TestDevice: Sendable {
    public var address: PCIAddress
    public var vendor: UInt32
    public var device: UInt32
    public var subsystemVendor: UInt32
    public var subsystemDevice: UInt32
    public var classCode: UInt32
    public var iommuGroup: Int?
    /// For a PF: how many VFs it can make, and their device id.
    public var totalVFs: Int
    public var vfDevice: UInt32
    /// Network interfaces below the device (`net/<name>`).
    public var netInterfaces: [String]

    public init(_ address: String, vendor: UInt32, device: UInt32, subsystemVendor: UInt32? = nil,
                subsystemDevice: UInt32 = 0, classCode: UInt32, iommuGroup: Int? = nil,
                totalVFs: Int = 0, vfDevice: UInt32 = 0, netInterfaces: [String] = []) {
        self.address = try! PCIAddress(parsing: address)
        self.vendor = vendor
        self.device = device
        self.subsystemVendor = subsystemVendor ?? vendor
        self.subsystemDevice = subsystemDevice
        self.classCode = classCode
        self.iommuGroup = iommuGroup
        self.totalVFs = totalVFs
        self.vfDevice = vfDevice
        self.netInterfaces = netInterfaces
    }

    public var modalias: Modalias {
        Modalias(vendor: vendor, device: device, subsystemVendor: subsystemVendor, subsystemDevice: subsystemDevice,
                 baseClass: UInt8(classCode >> 16 & 0xFF), subClass: UInt8(classCode >> 8 & 0xFF),
                 interface: UInt8(classCode & 0xFF))
    }

    public static func virtioNet(_ address: String, group: Int? = nil) -> TestDevice {
        TestDevice(address, vendor: 0x1AF4, device: 0x1041, subsystemDevice: 0x1100, classCode: 0x020000,
                   iommuGroup: group, netInterfaces: ["enp0s3"])
    }

    /// An Intel PCH's ISA bridge (8086:a1c8, class 0601), which lpc_ich drives.
    public static func intelISABridge(_ address: String, group: Int? = nil) -> TestDevice {
        TestDevice(address, vendor: 0x8086, device: 0xA1C8, classCode: 0x060100, iommuGroup: group)
    }

    public static func e1000e(_ address: String, group: Int? = nil) -> TestDevice {
        TestDevice(address, vendor: 0x8086, device: 0x10D3, subsystemDevice: 0, classCode: 0x020000,
                   iommuGroup: group, netInterfaces: ["enp0s4"])
    }

    public static func nvmePF(_ address: String, group: Int? = nil, totalVFs: Int = 32) -> TestDevice {
        TestDevice(address, vendor: 0x1B36, device: 0x0010, subsystemVendor: 0x1AF4, subsystemDevice: 0x1100,
                   classCode: 0x010802, iommuGroup: group, totalVFs: totalVFs, vfDevice: 0x0010)
    }

    public static func connectX(_ address: String, group: Int? = nil) -> TestDevice {
        TestDevice(address, vendor: 0x15B3, device: 0x101E, subsystemDevice: 1, classCode: 0x020000, iommuGroup: group)
    }
}
