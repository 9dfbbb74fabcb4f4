import Glibc
import Logging

/// Where the daemon's log goes: journald's native protocol when stderr is
/// connected to journald, plain lines on stderr otherwise.
public enum LogDestination: String, Sendable, Equatable {
    case journald
    case standardError

    /// systemd's convention (systemd.exec(5), `$JOURNAL_STREAM`): the variable holds
    /// `<device>:<inode>` of the stream journald gave the service as stdout/stderr.
    /// Only when stderr is still that very stream is the service talking to journald;
    /// a child process that inherited the variable but has its stderr redirected is not.
    public static func detect(
        environment: [String: String] = ProcessEnvironment.current(),
        standardError: Int32 = STDERR_FILENO
    ) -> LogDestination {
        guard let stream = environment["JOURNAL_STREAM"], let expected = JournalStream(stream) else {
            return .standardError
        }
        var status = stat()
        guard fstat(standardError, &status) == 0 else { return .standardError }
        let actual = JournalStream(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        return actual == expected ? .journald : .standardError
    }

    /// A handler factory for `LoggingSystem.bootstrap`.
    public func makeHandler(identifier: String, logLevel: Logger.Level) -> @Sendable (String, Logger.MetadataProvider?) -> any LogHandler {
        switch self {
        case .journald:
            return { label, provider in
                JournalLogHandler(label: label, identifier: identifier, logLevel: logLevel, metadataProvider: provider)
            }
        case .standardError:
            return { label, provider in
                StderrLogHandler(label: label, logLevel: logLevel, metadataProvider: provider)
            }
        }
    }

    /// Bootstraps swift-log for the daemon. Call once, from the executable's main;
    /// libraries take a `Logger` and never bootstrap.
    @discardableResult
    public static func bootstrap(
        identifier: String = "flavourd",
        logLevel: Logger.Level = .info,
        destination: LogDestination = .detect(),
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> LogDestination {
        LoggingSystem.bootstrap(
            destination.makeHandler(identifier: identifier, logLevel: logLevel),
            metadataProvider: metadataProvider
        )
        return destination
    }
}

/// `$JOURNAL_STREAM`'s `<device>:<inode>`, both decimal.
struct JournalStream: Equatable {
    let device: UInt64
    let inode: UInt64

    init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        self.init(device: device, inode: inode)
    }
}
