import FlavourCore
import FlavourPOSIX

/// One step of trying one candidate, and how it ended.
public struct Attempt: Hashable, Sendable, CustomStringConvertible {
    public enum Step: String, Hashable, Sendable {
        case load, findDriver = "find-driver", override, unbind, bind, verify, restore, probe
    }

    public let module: ModuleName?
    public let driver: DriverName?
    public let step: Step
    /// nil when the step succeeded.
    public let errno: Int32?
    public let message: String

    public init(module: ModuleName?, driver: DriverName?, step: Step, errno: Int32?, message: String) {
        self.module = module
        self.driver = driver
        self.step = step
        self.errno = errno
        self.message = message
    }

    public var succeeded: Bool { errno == nil }

    public var description: String {
        let who = [module.map { "module \($0)" }, driver.map { "driver \($0)" }].compactMap { $0 }.joined(separator: ", ")
        let status = errno.map { "failed: \(Errno.name($0))" } ?? "ok"
        return "\(step.rawValue) \(who.isEmpty ? "" : "(\(who)) ")\(status): \(message)"
    }
}
