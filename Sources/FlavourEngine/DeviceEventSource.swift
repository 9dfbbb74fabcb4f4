/// Where requests come from: libudev in production, the test kernel in tests.
public protocol DeviceEventSource: Sendable {
    /// What status shows, e.g. `udev` or `kernel`.
    var name: String { get }
    /// Starts receiving; events sent after this returns are never lost unnoticed: when some
    /// are (an overrun), the stream carries `DeviceEvent.lost` where they went missing.
    func start() throws -> AsyncStream<DeviceEvent>
    /// Stops receiving. What the source had already received is still delivered, then the
    /// stream ends.
    func stop()
    /// Whether the source hears the kernel's own `add`s beside udevd's copies of them (the
    /// daemon then drops whichever copy comes second).
    var hearsKernelAdds: Bool { get }
}

extension DeviceEventSource {
    public var hearsKernelAdds: Bool { false }
}
