import FlavourCore
import FlavourEngine
import FlavourPOSIX
import FlavourPlatform

/// PCI events from a libudev monitor. A dedicated thread sleeps in poll(2) on the
/// monitor's socket, so an idle daemon takes no CPU and no wake-ups.
public final class UdevDeviceEventSource: DeviceEventSource, Sendable {
    public let name: String
    private let monitor: UdevMonitor

    /// `tag`: hear only devices udev tagged for us (udev source only: the kernel source
    /// carries no tags). `receiveBufferSize`: bytes asked for the socket's receive queue.
    public init(source: UdevEventSource, tag: String?, receiveBufferSize: Int32 = UdevMonitor.receiveBufferSize) throws {
        self.name = source.rawValue
        // Only the actions flavourd acts on (the bind and unbind echoes of its own writes, two
        // a bind, never wake the daemon), and only the properties it reads.
        monitor = try UdevMonitor(
            source: source, subsystem: "pci", tag: source == .udev ? tag : nil, receiveBufferSize: receiveBufferSize,
            actions: UeventRequest.actions, keys: UeventRequest.keys)
    }

    /// Why the receive buffer is not the size asked for, if it is not.
    public var receiveBufferError: UdevError? { monitor.receiveBufferError }
    /// The receive buffer the kernel gave the socket, in bytes.
    public var receiveBufferBytes: Int { monitor.receiveBufferBytes }

    public func start() throws -> AsyncStream<DeviceEvent> {
        let (stream, continuation) = AsyncStream<DeviceEvent>.makeStream(bufferingPolicy: .unbounded)
        let monitor = monitor
        PosixThread.detach(name: "flavourd-udev") {
            while true {
                let readable = monitor.wait(timeoutMilliseconds: -1)  // false: cancelled
                // After a stop too: what the socket already holds is delivered, not dropped.
                drain: while true {
                    switch monitor.receive() {
                    case .event(let event):
                        continuation.yield(DeviceEvent(action: event.action, sysName: event.sysName, properties: event.properties))
                    case .overrun:
                        continuation.yield(.lost)
                    case .nothing:
                        break drain
                    }
                }
                if !readable { break }
            }
            continuation.finish()
        }
        return stream
    }

    public func stop() { monitor.cancelWaits() }
}
