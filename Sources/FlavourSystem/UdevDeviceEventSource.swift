import FlavourCore
import FlavourEngine
import FlavourPOSIX
import FlavourPlatform

/// PCI events from a libudev monitor. A dedicated thread sleeps in poll(2) on the
/// monitor's socket, so an idle daemon takes no CPU and no wake-ups.
///
/// On the udev source it may also listen to the kernel's own group for `add` only
/// (`kernelAdds`): udevd forwards an event only after running its rules, minutes late behind a
/// slow rule at 1,000 VFs, and the kernel's `add` lets the daemon bind a new VF at once.
/// udevd's copy still follows, with the same SEQNUM; the daemon drops it (`KernelAddSeqnums`).
public final class UdevDeviceEventSource: DeviceEventSource, Sendable {
    /// `udev`, `kernel`, or `udev+kernel-add` when both groups are heard.
    public let name: String
    private let monitor: UdevMonitor
    /// The kernel group's `add`s, beside the udev monitor; nil on the kernel source (its one
    /// monitor hears them) or when turned off.
    private let kernelAddMonitor: UdevMonitor?

    /// `tag`: hear only devices udev tagged for us (udev source only: the kernel source
    /// carries no tags). `receiveBufferSize`: bytes asked for each socket's receive queue.
    /// `kernelAdds`: on the udev source, also hear the kernel's own `add`s.
    public init(
        source: UdevEventSource, tag: String?, receiveBufferSize: Int32 = UdevMonitor.receiveBufferSize, kernelAdds: Bool = false
    ) throws {
        // Only the actions flavourd acts on (the bind and unbind echoes of its own writes, two
        // a bind, never wake the daemon), and only the properties it reads.
        monitor = try UdevMonitor(
            source: source, subsystem: "pci", tag: source == .udev ? tag : nil, receiveBufferSize: receiveBufferSize,
            actions: UeventRequest.actions, keys: UeventRequest.keys)
        // No tag filter: the kernel's events carry no tags. `add` only: every other action
        // (remove, change requests, bind echoes) stays with udevd's copy, in udevd's order.
        kernelAddMonitor = kernelAdds && source == .udev
            ? try UdevMonitor(source: .kernel, subsystem: "pci", receiveBufferSize: receiveBufferSize,
                              actions: ["add"], keys: UeventRequest.kernelAddKeys)
            : nil
        name = kernelAddMonitor == nil ? source.rawValue : source.rawValue + "+kernel-add"
    }

    /// Whether the kernel's own `add`s are heard beside udevd's events.
    public var hearsKernelAdds: Bool { kernelAddMonitor != nil }
    /// Why a receive buffer is not the size asked for, if one is not.
    public var receiveBufferError: UdevError? { monitor.receiveBufferError ?? kernelAddMonitor?.receiveBufferError }
    /// The receive buffer the kernel gave the (udev or kernel) socket, in bytes.
    public var receiveBufferBytes: Int { monitor.receiveBufferBytes }

    public func start() throws -> AsyncStream<DeviceEvent> {
        let (stream, continuation) = AsyncStream<DeviceEvent>.makeStream(bufferingPolicy: .unbounded)
        let monitor = monitor
        let kernelAddMonitor = kernelAddMonitor
        let heard: DeviceEvent.Heard = monitor.source == .udev ? .udev : .kernel
        let monitors = [kernelAddMonitor, monitor].compactMap { $0 }
        PosixThread.detach(name: "flavourd-udev") {
            while true {
                let readable = UdevMonitor.wait(forAny: monitors, timeoutMilliseconds: -1)  // false: cancelled
                // After a stop too: what the sockets already hold is delivered, not dropped.
                // The kernel's adds first: udevd's copy of one is sent only after the kernel's.
                if let kernelAddMonitor {
                    drain: while true {
                        switch kernelAddMonitor.receive() {
                        case .event(let event) where UeventRequest.actsOnKernelAdd(event.properties):
                            continuation.yield(DeviceEvent(action: event.action, sysName: event.sysName, properties: event.properties,
                                                           seqnum: event.seqnum, heard: .kernel))
                        case .event:
                            continue  // a request: udevd's copy brings it
                        case .overrun:
                            // udevd's copies of the lost adds still come on the udev socket, which
                            // has its own overrun (and resync): nothing is missed for good.
                            continuation.yield(.kernelAddsLost)
                        case .nothing:
                            break drain
                        }
                    }
                }
                drain: while true {
                    switch monitor.receive() {
                    case .event(let event):
                        continuation.yield(DeviceEvent(action: event.action, sysName: event.sysName, properties: event.properties,
                                                       seqnum: event.seqnum, heard: heard))
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

    public func stop() {
        kernelAddMonitor?.cancelWaits()
        monitor.cancelWaits()
    }
}
