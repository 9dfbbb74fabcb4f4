import FlavourCore
import FlavourEngine
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A PF's `sriov_drivers_autoprobe` (KERNEL-FACTS.md, "SR-IOV"): at 0 the kernel probes
/// no driver for new VFs, so the default driver never takes VFs that are meant for VFIO.
/// flavourd turns it off only when standing requests cover every VF the PF can have (an
/// uncovered VF would be left with no driver at all), notes that it did under the run
/// directory, and turns it back on once the requests no longer cover them all. A PF an
/// admin set to 0 by hand is never touched.
struct VFAutoprobe: Sendable {
    let sysfs: Sysfs
    /// `RUN_DIR/autoprobe-off/`: one empty file per PF flavourd turned off.
    let markers: String
    let logger: Logger

    /// Brings one device's autoprobe in line with the standing requests; a no-op for
    /// devices that cannot have VFs.
    func update(_ device: PCIDevice, requests: [StandingRequest]) {
        guard let layout = sysfs.sriovLayout(of: device) else { return }
        let address = device.address
        let attribute = PCIPaths.attribute("sriov_drivers_autoprobe", of: address)
        let covering = layout.requests(covering: requests)
        let marker = markers + "/" + address.description
        let ours = FileSystem.exists(marker)
        if layout.everyVFCovered(by: requests) {
            guard (try? sysfs.read(attribute)) == "1" else { return }
            do {
                try sysfs.write("0", to: attribute)
                mark(marker)
                logger.info("VF autoprobe turned off for a PF whose VFs are requested", metadata: [
                    "pci.slot_name": "\(address)", "vfs": "\(layout.totalVFs)",
                    "request": "\(covering.map { "\($0.flavourName) \($0.selector) (\($0.source))" }.joined(separator: "; "))",
                ])
            } catch {
                logger.error("Could not turn VF autoprobe off", metadata: ["pci.slot_name": "\(address)", "reason": "\(error)"])
            }
        } else if ours {
            do {
                try sysfs.write("1", to: attribute)
                unlink(marker)
                logger.info("VF autoprobe turned back on: the standing requests no longer cover every VF", metadata: [
                    "pci.slot_name": "\(address)",
                ])
            } catch {
                logger.error("Could not turn VF autoprobe back on", metadata: ["pci.slot_name": "\(address)", "reason": "\(error)"])
            }
        } else if let request = covering.first {
            logger.notice("VF autoprobe left on: the standing requests cover only some VFs", metadata: [
                "pci.slot_name": "\(address)", "vfs": "\(layout.totalVFs)",
                "request": "\(request.flavourName) \(request.selector) (\(request.source))",
            ])
        }
    }

    /// Whether `update` could change anything for the device, in one stat: with standing
    /// requests, a device that can have VFs (they may cover all of them); without, a PF
    /// flavourd turned off (to turn it back on).
    func mayChange(_ address: PCIAddress, requests: [StandingRequest]) -> Bool {
        requests.isEmpty
            ? FileSystem.exists(markers + "/" + address.description)
            : sysfs.exists(PCIPaths.attribute("sriov_totalvfs", of: address))
    }

    /// Whether flavourd has PFs to look after even without requests (to turn them back on).
    var hasMarkers: Bool { !FileSystem.list(markers).isEmpty }

    private func mark(_ marker: String) {
        FileSystem.makeDirectories(markers)
        close(open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644))
    }
}
