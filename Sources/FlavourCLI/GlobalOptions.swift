import ArgumentParser
import FlavourCore
import FlavourEngine
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Where the kernel and the configuration are: every command takes these, so the same
/// binary runs against /sys, a guest, or a temporary tree.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Root of sysfs.", valueName: "dir"))
    var sysfsRoot = DefaultPaths.sysfsRoot

    @Option(help: ArgumentHelp("Kernel modules directory (default: /lib/modules/$(uname -r)).", valueName: "dir"))
    var modulesDir: String?

    @Option(help: ArgumentHelp("Directory of *.conf files with flavours, variant, deny and request rules.", valueName: "dir"))
    var configDir = DefaultPaths.configDirectory

    @Option(help: ArgumentHelp("Root of procfs, read by the in-use guard (processes' open files, mounts, swaps, routes).", valueName: "dir"))
    var procRoot = DefaultPaths.procRoot

    var sysfs: Sysfs { Sysfs(root: sysfsRoot, writer: CLIContext.active.makeWriter(sysfsRoot)) }

    var loader: MatchTableLoader { MatchTableLoader(configDirectory: configDir, modulesDirectory: modulesDir) }

    /// The match table and config; a broken config is an error, skipped alias lines are not.
    func loadTable(extraPrefixes: Set<String> = []) throws -> MatchTableLoader.Loaded {
        do { return try loader.load(extraPrefixes: extraPrefixes) } catch {
            throw CLIError("the configuration in \(configDir) is broken; fix these lines:\n\(error.description)")
        }
    }

    /// The executor that writes; refuses early when writing the kernel's sysfs needs root.
    /// With `runDirectory`, each change is recorded in the crash journal flavourd keeps
    /// there (`InFlightJournal`), so a flavourctl killed mid-bind is settled by the next
    /// flavourctl or flavourd, and the two never change one device at once.
    func executor(logger: Logger, action: String, runDirectory: String? = nil) throws -> RequestExecutor {
        if Self.isKernelSysfs(sysfsRoot), !CLIContext.active.isRoot() {
            throw CLIError("\(action) writes to /sys and loads kernel modules: it needs root (run it with sudo)")
        }
        let loaded = try loadTable()
        let moduleLoader: any ModuleLoader
        do { moduleLoader = try CLIContext.active.makeLoader(loader.modulesDirectory, logger) } catch {
            throw CLIError("cannot use the modules in \(loader.modulesDirectory): \(error)")
        }
        let sysfs = sysfs
        let journal = runDirectory.map { InFlightJournal(directory: RunDirectory($0).inFlight) }
        let binder = Binder(sysfs: sysfs, loader: moduleLoader, logger: logger, steps: journal ?? NoStepRecorder(), procRoot: procRoot)
        if let journal {
            for line in journal.recover(binder: binder, logger: logger) { CLIContext.active.errorOutput("recovered: \(line)") }
        }
        return RequestExecutor(
            sysfs: sysfs, binder: binder, config: loaded.config, table: loaded.table, procRoot: procRoot,
            probe: CLIContext.active.probe)
    }

    /// Whether `root` is this system's /sys however it is spelled (`/sys/`, `//sys`, a
    /// link to it), as opposed to a tree of files standing in for it.
    static func isKernelSysfs(_ root: String) -> Bool {
        guard let resolved = realpath(root, nil) else { return false }
        defer { free(resolved) }
        return String(cString: resolved) == DefaultPaths.sysfsRoot
    }

    /// The guard `apply` and flavourd ask, over the same roots, for commands that only look.
    func requestGuard(_ loaded: MatchTableLoader.Loaded) -> RequestGuard {
        let sysfs = sysfs
        return RequestGuard(
            inUse: InUseGuard(sysfs: sysfs, procRoot: procRoot, probe: CLIContext.active.probe),
            protections: loaded.config.protections,
            vfioCheck: VFIODriverCheck(sysfs: sysfs, table: loaded.table, config: loaded.config))
    }
}

/// A one-line error for the person at the terminal.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Parses a device argument: exactly an address; anything else (a path, `..`) is refused.
func parseDevice(_ text: String) throws -> PCIAddress {
    do { return try PCIAddress(parsing: text) } catch {
        throw CLIError(error.description)
    }
}
