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
    /// Starts or stops hearing the kernel's own `add`s (a no-op for a source that does not
    /// hear them): the daemon listens only while a standing request may cover a new device,
    /// the one case it acts on the kernel's `add` for.
    func listenForKernelAdds(_ listen: Bool) throws
}

extension DeviceEventSource {
    public var hearsKernelAdds: Bool { false }
    public func listenForKernelAdds(_ listen: Bool) throws {}
}
