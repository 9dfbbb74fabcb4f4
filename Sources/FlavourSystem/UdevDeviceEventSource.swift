import FlavourEngine
import FlavourPOSIX
import FlavourPlatform

/// PCI events from a libudev monitor. A dedicated thread sleeps in poll(2) on the
/// monitor's socket, so an idle daemon takes no CPU and no wake-ups.
public final class UdevDeviceEventSource: DeviceEventSource, Sendable {
    public let name: String
    private let monitor: UdevMonitor

    /// `tag`: hear only devices udev tagged for us (udev source only: the kernel source
    /// carries no tags).
    public init(source: UdevEventSource, tag: String?) throws {
        self.name = source.rawValue
        monitor = try UdevMonitor(source: source, subsystem: "pci", tag: source == .udev ? tag : nil)
    }

    public func start() throws -> AsyncStream<DeviceEvent> {
        let (stream, continuation) = AsyncStream<DeviceEvent>.makeStream(bufferingPolicy: .unbounded)
        let monitor = monitor
        PosixThread.detach(name: "flavourd-udev") {
            while true {
                guard monitor.wait(timeoutMilliseconds: -1) else { break }  // false: cancelled
                while let event = monitor.receive() {
                    continuation.yield(DeviceEvent(action: event.action, sysName: event.sysName, properties: event.properties))
                }
            }
            continuation.finish()
        }
        return stream
    }

    public func stop() { monitor.cancelWaits() }
}
