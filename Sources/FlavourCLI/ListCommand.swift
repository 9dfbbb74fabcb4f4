import ArgumentParser
import FlavourCore
import FlavourEngine

/// `flavourctl list`: every PCI device, what the vfio flavour would pick for it, and
/// whether the host uses it.
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List PCI devices with their driver, override, IOMMU group, vfio choice and use by the host.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print JSON.")
    var json = false

    struct Row: Encodable {
        let address: String
        let vendor: String
        let device: String
        let subsystemVendor: String
        let subsystemDevice: String
        let `class`: String
        let driver: Nullable<String>
        let driverOverride: Nullable<String>
        let iommuGroup: Nullable<Int>
        let vfioDriver: Nullable<String>
        let physfn: Nullable<String>
        let groupViable: Nullable<Bool>
        let groupBlockers: [GroupReport.Blocker]
        /// What the host uses the device for (InUseGuard), as `explain` says it.
        let inUse: [String]
        /// The `protect` rule naming it.
        let protected: Nullable<String>
        /// Registered with VFIO by the kernel (`VFIORegistration`): on vfio-pci or a variant driver.
        let vfioMode: Bool
        /// `vfioN` of its `vfio-dev/` entry (Linux 6.1+), null otherwise.
        let vfioDevice: Nullable<String>
        /// The text columns; not in the JSON.
        let viableText: String
        let inUseText: String
        let modeText: String

        enum CodingKeys: String, CodingKey {
            case address, vendor, device, `class`, driver, physfn, protected
            case inUse = "in_use"
            case groupViable = "group_viable", groupBlockers = "group_blockers"
            case subsystemVendor = "subsystem_vendor", subsystemDevice = "subsystem_device"
            case driverOverride = "driver_override", iommuGroup = "iommu_group", vfioDriver = "vfio_driver"
            case vfioMode = "vfio_mode", vfioDevice = "vfio_device"
        }
    }

    func run() throws {
        let loaded = try global.loadTable()
        let sysfs = global.sysfs
        func hex(_ value: UInt32, _ width: Int) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let check = VFIODriverCheck(sysfs: sysfs, table: loaded.table, config: loaded.config)
        // One guard, one survey: the host's tables and /proc are read once for every device.
        let devices = sysfs.pciDevices()
        let verdicts = global.requestGuard(loaded).uses(devices)
        let rows = zip(devices, verdicts).map { device, verdict in
            let inUse = verdict.reasons
            let group = GroupReport(device, check: check)
            let plan = CandidatePlan(flavour: .vfio, modalias: device.modalias, table: loaded.table, config: loaded.config)
            let m = device.modalias
            let registration = sysfs.vfioRegistration(of: device.address)
            return Row(
                address: device.address.description, vendor: hex(m.vendor, 4), device: hex(m.device, 4),
                subsystemVendor: hex(m.subsystemVendor, 4), subsystemDevice: hex(m.subsystemDevice, 4),
                class: "0x" + hex(device.classCode, 6), driver: Nullable(device.driver),
                driverOverride: Nullable(device.driverOverride), iommuGroup: Nullable(device.iommuGroup),
                vfioDriver: Nullable(plan.candidates.first?.module.rawValue),
                physfn: Nullable(device.physicalFunction?.description), groupViable: Nullable(group.viable),
                groupBlockers: group.blockers, inUse: inUse.map(\.description),
                protected: Nullable(verdict.protection?.description),
                vfioMode: registration != nil, vfioDevice: Nullable(registration?.deviceName),
                viableText: group.viable == nil ? "-" : group.viableText,
                inUseText: Self.inUseText(verdict),
                modeText: registration.map { "yes (\($0))" } ?? "no")
        }
        if json {
            say(try JSONOutput.render(rows))
            return
        }
        let header = ["ADDRESS", "ID", "CLASS", "DRIVER", "OVERRIDE", "GROUP", "VFIO", "VFIO MODE", "IN USE", "VIABLE IF BOUND"]
        let table = [header] + rows.map {
            [$0.address, "\($0.vendor):\($0.device)", $0.class, $0.driver.value ?? "-", $0.driverOverride.value ?? "-",
             $0.iommuGroup.value.map(String.init) ?? "-", $0.vfioDriver.value ?? "-", $0.modeText, $0.inUseText, $0.viableText]
        }
        let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        for row in table {
            say(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingTrailingSpaces)
        }
    }
}

extension ListCommand {
    /// The IN USE column: each reason in a few words, `protected` first; `-` for none.
    static func inUseText(_ verdict: RequestGuard.Verdict) -> String {
        let words = (verdict.protection == nil ? [] : ["protected"]) + verdict.reasons.map(\.summary)
        return words.isEmpty ? "-" : words.joined(separator: "; ")
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
