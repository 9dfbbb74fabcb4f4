/// Where requests come from: libudev in production, the test kernel in tests.
public protocol DeviceEventSource: Sendable {
    /// What status shows, e.g. `udev` or `kernel`.
    var name: String { get }
    /// Starts receiving; events sent after this returns are never lost.
    func start() throws -> AsyncStream<DeviceEvent>
    func stop()
}
