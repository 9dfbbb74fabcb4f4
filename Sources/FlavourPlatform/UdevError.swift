import FlavourPOSIX

/// A libudev call that failed: what was asked and the errno it answered.
public struct UdevError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The libudev function, e.g. `udev_monitor_enable_receiving`.
    public let operation: String
    /// What it was asked for, e.g. `subsystem pci` or `source kernel`.
    public let argument: String
    public let errno: Int32

    public init(operation: String, argument: String, errno: Int32) {
        self.operation = operation
        self.argument = argument
        self.errno = errno
    }

    public var description: String {
        "\(operation)(\(argument)) failed: \(Errno(errno))"
    }
}
