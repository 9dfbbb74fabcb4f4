import ArgumentParser

/// `flavourctl`: ask for a driver flavour on a PCI device, see why a driver would be
/// chosen, and list devices.
public struct Flavourctl: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "flavourctl",
        abstract: "Give PCI devices a driver flavour: the best VFIO variant driver, or vfio-pci.",
        discussion: """
            A flavour (built in: vfio) picks a driver through the kernel's module aliases: the
            most specific `vfio_pci:` alias wins, vfio-pci is the fallback, and a failed probe
            falls back to the next candidate. `none` returns a device to its default driver.
            """,
        subcommands: [
            ExplainCommand.self, ApplyCommand.self, ListCommand.self, SetCommand.self, UnsetCommand.self, StatusCommand.self,
            SettleCommand.self,
        ])

    public init() {}

    /// Runs one invocation with `context` and returns its exit code.
    public static func run(arguments: [String], context: CLIContext) -> Int32 {
        CLIContext.$current.withValue(context) { run(arguments: arguments) }
    }

    /// Runs one invocation in the current `CLIContext` and returns its exit code: reports
    /// to standard output, errors and usage mistakes to standard error.
    public static func run(arguments: [String]) -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return 0
        } catch let error as CLIError {
            CLIContext.active.errorOutput("flavourctl: \(error.description)")
            return 1
        } catch let error as ApplyFailed {
            return error.code
        } catch {
            let message = fullMessage(for: error)
            let code = exitCode(for: error).rawValue
            // --help and --version are output; everything else is an error.
            if !message.isEmpty { (code == 0 ? CLIContext.active.output : CLIContext.active.errorOutput)(message) }
            return code
        }
    }
}

/// The request was carried out and failed; its report is already printed.
struct ApplyFailed: Error {
    let code: Int32
}
