import FlavourEngine
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// What flavourctl's commands reach the system through: the sysfs writer, the module
/// loader, standard output and standard error. flavourctl's main wires in the real
/// writer and loader (FlavourSystem); tests swap in the test kernel and capture the output.
public struct CLIContext: Sendable {
    /// The writer for a sysfs root.
    public var makeWriter: @Sendable (_ sysfsRoot: String) -> any SysfsWriter
    public var makeLoader: @Sendable (_ modulesDirectory: String, _ logger: Logger) throws -> any ModuleLoader
    /// What the in-use guard asks the kernel about device nodes and open files.
    public var probe: any HostProbe
    public var output: @Sendable (String) -> Void
    /// Errors (the command could not run: bad input, no root, broken config) and usage.
    public var errorOutput: @Sendable (String) -> Void
    public var isRoot: @Sendable () -> Bool
    /// Asks the daemon to reload (SIGHUP), only while the process is still that one: 0, or
    /// the errno why not (ESRCH: it is gone, or its pid belongs to another process now).
    public var signalReload: @Sendable (ProcessIdentity) -> Int32

    public init(
        makeWriter: @escaping @Sendable (String) -> any SysfsWriter,
        makeLoader: @escaping @Sendable (String, Logger) throws -> any ModuleLoader,
        probe: any HostProbe,
        output: @escaping @Sendable (String) -> Void,
        errorOutput: (@Sendable (String) -> Void)? = nil,
        isRoot: @escaping @Sendable () -> Bool,
        signalReload: @escaping @Sendable (ProcessIdentity) -> Int32
    ) {
        self.makeWriter = makeWriter
        self.makeLoader = makeLoader
        self.probe = probe
        self.output = output
        self.errorOutput = errorOutput ?? output
        self.isRoot = isRoot
        self.signalReload = signalReload
    }

    /// flavourctl on a terminal: reports on standard output, errors on standard error, root
    /// by the effective uid; the kernel reached through `makeWriter`, `makeLoader` and
    /// `probe`, the daemon signalled through `signalReload` (a pidfd, FlavourPlatform's
    /// ProcessSignal).
    public static func terminal(
        makeWriter: @escaping @Sendable (String) -> any SysfsWriter,
        makeLoader: @escaping @Sendable (String, Logger) throws -> any ModuleLoader,
        probe: any HostProbe,
        signalReload: @escaping @Sendable (ProcessIdentity) -> Int32
    ) -> CLIContext {
        CLIContext(
            makeWriter: makeWriter, makeLoader: makeLoader, probe: probe,
            output: { print($0) },
            errorOutput: { line in
                let bytes = Array((line + "\n").utf8)
                _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            },
            isRoot: { geteuid() == 0 },
            signalReload: signalReload)
    }

    /// The context of the running invocation (`Flavourctl.run(arguments:context:)`).
    @TaskLocal public static var current: CLIContext?

    /// `current`, which every invocation sets: a command run without one is a wiring mistake.
    static var active: CLIContext {
        guard let current else { preconditionFailure("flavourctl ran without a CLIContext: call Flavourctl.run(arguments:context:)") }
        return current
    }
}

/// Prints a line through the current context.
func say(_ line: String = "") { CLIContext.active.output(line) }
