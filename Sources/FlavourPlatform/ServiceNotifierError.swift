import FlavourPOSIX

/// `sd_notify` could not deliver a state to the service manager.
public struct ServiceNotifierError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The datagram that was to be sent, e.g. `READY=1`.
    public let state: String
    public let errno: Int32

    public init(state: String, errno: Int32) {
        self.state = state
        self.errno = errno
    }

    public var description: String {
        "sd_notify(\(state.split(separator: "\n").joined(separator: ", "))) failed: \(Errno(errno))"
    }
}
