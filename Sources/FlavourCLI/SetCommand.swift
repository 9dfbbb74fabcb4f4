import ArgumentParser
import FlavourCore
import FlavourEngine
import FlavourPOSIX

#if canImport(Glibc)
import Glibc
#endif

/// `flavourctl set DEVICE FLAVOUR`: ask flavourd, the way the kernel would, and wait for its answer.
struct SetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Ask flavourd to give a device a flavour, and wait for the outcome.",
        discussion: """
            Writes the device's driver_flavour attribute where the kernel has one (the
            driver_flavour module), else sends a synthetic uevent
            (change UUID DRIVERFLAVOUR=FLAVOUR). Needs a running flavourd; `apply` works without it.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var runtime: RunDirectoryOption

    @Argument(help: ArgumentHelp("PCI address, DDDD:BB:DD.F.", valueName: "device"))
    var device: String

    @Argument(help: ArgumentHelp("A flavour name, or `none`.", valueName: "flavour"))
    var flavour: String

    @Flag(help: "Also keep the request in the config, so it is applied at every boot and hotplug.")
    var persist = false

    @Option(help: "Seconds to wait for flavourd's outcome.")
    var timeout: Double = 30

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let outcome = try Self.send(
            device: device, flavour: flavour, global: global, runDirectory: runtime.runDir, timeout: timeout,
            persist: persist ? .add : .keep)
        try Self.print(outcome, json: json, sysfs: global.sysfs)
        if !outcome.succeeded { throw ApplyFailed(code: 1) }
    }

    enum Persistence { case keep, add, remove }

    /// The longest `--timeout`: a day.
    static let maxTimeout: Double = 86_400

    /// Everything is checked before the first write; a request nobody would hear is refused.
    static func send(
        device text: String, flavour: String, global: GlobalOptions, runDirectory: String, timeout: Double,
        persist: Persistence
    ) throws -> DaemonStatusFile.Outcome {
        let address = try parseDevice(text)
        // UInt64(timeout * 1e9) below traps on a negative, infinite or NaN timeout.
        guard timeout.isFinite, (0...maxTimeout).contains(timeout) else {
            throw CLIError("--timeout must be a number of seconds from 0 to \(Int(maxTimeout)), not \(timeout)")
        }
        if GlobalOptions.isKernelSysfs(global.sysfsRoot), !CLIContext.active.isRoot() {
            throw CLIError("flavourctl set writes to /sys: it needs root (run it with sudo)")
        }
        let sysfs = global.sysfs
        do { _ = try sysfs.pciDevice(address) } catch { throw CLIError(error.description) }
        let loaded = try global.loadTable()
        guard flavour == Flavour.revertName || loaded.config.flavour(named: flavour) != nil else {
            let known = (loaded.config.flavours.keys.sorted() + [Flavour.revertName]).joined(separator: ", ")
            throw CLIError("unknown flavour '\(flavour)'; known: \(known)")
        }
        if persist == .add, flavour == Flavour.revertName {
            throw CLIError("'none' cannot be persisted: use 'flavourctl unset \(address)', which reverts the device and forgets its request")
        }
        let attribute = PCIPaths.attribute("driver_flavour", of: address)
        let viaAttribute = sysfs.exists(attribute)
        // Synthetic uevent arguments must be alphanumeric (lib/kobject_uevent.c): no '_' in the key.
        // Checked before --persist writes the config, so a refused request leaves nothing behind.
        guard viaAttribute || flavour.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw CLIError(
                "flavour '\(flavour)' cannot travel in a synthetic uevent (letters and digits only); load the driver_flavour module or use 'flavourctl apply'")
        }
        guard let status = DaemonStatusFile.read(runDirectory: runDirectory), status.isAlive else {
            let stale = DaemonStatusFile.read(runDirectory: runDirectory).map { " (status.json is stale: \($0.staleness))" } ?? ""
            throw CLIError(
                "flavourd is not running (no live daemon in \(runDirectory)/status.json\(stale)): nothing was sent; start it (systemctl start flavourd) or use 'flavourctl apply'")
        }
        let persisted = PersistedRequests(configDirectory: global.configDir)
        switch persist {
        case .keep: break
        case .add: try persisted.set(address, flavour: flavour, checkOnly: true)
        case .remove:
            // Forgotten before the revert is sent: the reload then queues nothing for the device.
            if try persisted.remove(address) { try reload(status, persisted) }
        }

        let started = DaemonStatusFile.realtimeNanoseconds()
        let uuid = randomUUID()
        do throws(SysfsError) {
            if viaAttribute {
                try sysfs.write(flavour, to: attribute)
            } else {
                try sysfs.write("change \(uuid) DRIVERFLAVOUR=\(flavour)", to: PCIPaths.attribute("uevent", of: address))
            }
        } catch {
            throw CLIError("sending the request failed: \(error.description)")
        }
        let requested = flavour.isEmpty ? Flavour.revertName : flavour
        let deadline = started + UInt64(timeout * 1e9)
        var answer: DaemonStatusFile.Outcome?
        while answer == nil, DaemonStatusFile.realtimeNanoseconds() < deadline {
            if let current = DaemonStatusFile.read(runDirectory: runDirectory) {
                answer = viaAttribute
                    ? current.lastOutcomes.first { $0.address == address.description && $0.finishedAtNs >= started && $0.requested == requested }
                    : current.outcome(uuid: uuid)
            }
            if answer == nil { usleep(20_000) }
        }
        guard let outcome = answer else {
            throw CLIError(
                "sent \(requested) to \(address) \(viaAttribute ? "through driver_flavour" : "as uevent \(uuid)"), but flavourd gave no outcome within \(timeout) s; see journalctl -u flavourd")
        }
        // Kept in the config only once it worked, and the daemon told after the device moved:
        // its reload then finds the device as requested and queues nothing for it.
        if persist == .add {
            if outcome.succeeded {
                try persisted.set(address, flavour: flavour)
                try reload(status, persisted)
            } else {
                CLIContext.active.errorOutput("not persisted: the request ended \(outcome.result)")
            }
        }
        return outcome
    }

    /// Tells the daemon that wrote `status` to reload, if it is still that process.
    static func reload(_ status: DaemonStatusFile, _ persisted: PersistedRequests) throws {
        guard let daemon = status.daemon else {
            throw CLIError(
                "\(persisted.path) changed, but status.json does not say which process pid \(status.pid) must be (an older flavourd): not signalled; run systemctl reload flavourd")
        }
        let errno = CLIContext.active.signalReload(daemon)
        guard errno == 0 else {
            throw CLIError(
                "\(persisted.path) changed, but flavourd (\(daemon)) could not be told to reload (\(Errno.name(errno)): \(Errno.message(errno))): run systemctl reload flavourd")
        }
    }

    static func print(_ outcome: DaemonStatusFile.Outcome, json: Bool, sysfs: Sysfs) throws {
        if json {
            say(try JSONOutput.render(OutcomeLine(outcome, sysfs: sysfs)))
            return
        }
        let detail = outcome.summary.isEmpty || outcome.summary == outcome.result ? "" : " (\(outcome.summary))"
        say("\(outcome.address): \(outcome.result), driver \(outcome.driver ?? "none")\(detail)")
    }

    struct OutcomeLine: Encodable {
        let address: String
        let requested: String
        let result: String
        let driver: Nullable<String>
        let summary: String
        /// Whether the kernel has the device registered with VFIO now, as flavourctl prints
        /// the line (`VFIORegistration`), whatever the driver is called.
        let vfioMode: Bool

        enum CodingKeys: String, CodingKey {
            case address, requested, result, driver, summary
            case vfioMode = "vfio_mode"
        }

        init(_ outcome: DaemonStatusFile.Outcome, sysfs: Sysfs) {
            address = outcome.address
            requested = outcome.requested
            result = outcome.result
            driver = Nullable(outcome.driver)
            summary = outcome.summary
            vfioMode = (try? PCIAddress(parsing: outcome.address)).flatMap(sysfs.vfioRegistration) != nil
        }
    }

    static func randomUUID() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<32).map { _ in String(UInt8.random(in: 0..<16, using: &generator), radix: 16) }.joined()
        let h = Array(hex)
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-4" + String(h[13..<16]) + "-a" + String(h[17..<20]) + "-" + String(h[20..<32])
    }
}

/// `flavourctl unset DEVICE`: back to the default driver, and forget any persisted request.
struct UnsetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unset", abstract: "Ask flavourd to return a device to its default driver and drop its persisted request.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var runtime: RunDirectoryOption

    @Argument(help: ArgumentHelp("PCI address, DDDD:BB:DD.F.", valueName: "device"))
    var device: String

    @Option(help: "Seconds to wait for flavourd's outcome.")
    var timeout: Double = 30

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let outcome = try SetCommand.send(
            device: device, flavour: Flavour.revertName, global: global, runDirectory: runtime.runDir, timeout: timeout,
            persist: .remove)
        try SetCommand.print(outcome, json: json, sysfs: global.sysfs)
        if !outcome.succeeded { throw ApplyFailed(code: 1) }
    }
}
