import FlavourCLI
import FlavourEngine
import FlavourPlatform
import FlavourSystem
import Logging

#if canImport(Glibc)
import Glibc
#endif

// What the engine logs while flavourctl works (an in-use guard overridden with --force, a
// module libkmod could not load): warnings on the terminal, and notices and worse in the
// journal too when journald runs, so an override done by hand is on record like the daemon's.
LoggingSystem.bootstrap { label in
    var handlers: [any LogHandler] = [StderrLogHandler(label: label, logLevel: .warning, metadataProvider: nil)]
    if access("/run/systemd/journal/socket", W_OK) == 0 {
        handlers.append(JournalLogHandler(label: label, identifier: "flavourctl", logLevel: .notice, metadataProvider: nil))
    }
    return MultiplexLogHandler(handlers)
}
// Writes never follow a link out of the sysfs root (openat2 RESOLVE_BENEATH); modules load
// through libkmod; the in-use guard asks the running kernel; flavourd is signalled through a
// pidfd, after its start time is checked.
let context = CLIContext.terminal(
    makeWriter: { root in ConfinedSysfsWriter(root: root) },
    makeLoader: { directory, logger in KmodModuleLoader(modulesDirectory: directory, logger: logger) },
    probe: KernelHostProbe(),
    signalReload: { daemon in
        ProcessSignal.send(SIGHUP, to: daemon.pid, startTime: daemon.startTime) { ProcessIdentity.of($0)?.startTime }
    })
exit(Flavourctl.run(arguments: Array(CommandLine.arguments.dropFirst()), context: context))
