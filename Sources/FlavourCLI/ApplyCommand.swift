import ArgumentParser
import FlavourCore
import FlavourEngine
import Logging

/// `flavourctl apply DEVICE FLAVOUR`: do it now, in this process, without the daemon.
struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Give a device a flavour now, in this process (`none` reverts to the default driver).",
        discussion: "Exits 0 when the device ends on a driver of the flavour (or back on its default driver for `none`).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("PCI address, DDDD:BB:DD.F.", valueName: "device"))
    var device: String

    @Argument(help: ArgumentHelp("A flavour name, or `none`.", valueName: "flavour"))
    var flavour: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let address = try parseDevice(device)
        // Validate everything before the first write.
        do { _ = try global.sysfs.pciDevice(address) } catch { throw CLIError(error.description) }
        let executor = try global.executor(logger: Logger(label: "flavourctl"), action: "flavourctl apply")
        guard let requested = executor.resolve(flavour) else {
            throw CLIError("unknown flavour '\(flavour)'; known: \(executor.knownFlavours)")
        }
        let outcome = executor.handle(address: address, requested: requested)
        if json {
            say(try JSONOutput.render(OutcomeReport(outcome)))
        } else {
            for line in OutcomeReport.lines(outcome) { say(line) }
        }
        if !outcome.succeeded { throw ApplyFailed(code: 1) }
    }
}
