import FlavourCore
import FlavourEngine
import FlavourPOSIX
import FlavourPlatform
import Synchronization

/// PCI events from a libudev monitor. A dedicated thread sleeps in poll(2) on the
/// monitor's socket, so an idle daemon takes no CPU and no wake-ups.
///
/// On the udev source it may also listen to the kernel's own group for `add` and `change` only
/// (`kernelAdds`): udevd forwards an event only after running its rules, minutes late behind a
/// slow rule at 1,000 VFs, and the kernel's `add` lets the daemon bind a new VF at once (and
/// the PF's `change`, once its VFs are all created, lets it bind held VFs, `VFCreations`).
/// udevd's copy still follows, with the same SEQNUM; the daemon drops it (`KernelAddSeqnums`).
/// That socket is open only while the daemon asks for it (`listenForKernelAdds`: while a
/// standing request may cover a new device): the kernel's group carries every uevent of the
/// host, each a wake-up, and a device no request covers would cost two events, not one.
public final class UdevDeviceEventSource: DeviceEventSource, Sendable {
    /// `udev`, `kernel`, or `udev+kernel-add` when the kernel's adds may be heard.
    public let name: String
    private let monitor: UdevMonitor
    /// The kernel group's `add`s, beside the udev monitor, while listened to; always nil on the
    /// kernel source (its one monitor hears them) or when turned off.
    private let kernelAddMonitor = Mutex<UdevMonitor?>(nil)
    private let kernelAdds: Bool
    private let receiveBufferSize: Int32
    /// Wakes the thread's poll when the kernel monitor comes or goes.
    private let wake: UdevMonitor.Wake

    /// `tag`: hear only devices udev tagged for us (udev source only: the kernel source
    /// carries no tags). `receiveBufferSize`: bytes asked for each socket's receive queue.
    /// `kernelAdds`: on the udev source, the kernel's own `add`s may be heard
    /// (`listenForKernelAdds`).
    public init(
        source: UdevEventSource, tag: String?, receiveBufferSize: Int32 = UdevMonitor.receiveBufferSize, kernelAdds: Bool = false
    ) throws {
        // Only the actions flavourd acts on (the bind and unbind echoes of its own writes, two
        // a bind, are dropped in the kernel and never wake the daemon), and only the properties
        // it reads.
        monitor = try UdevMonitor(
            source: source, subsystem: "pci", tag: source == .udev ? tag : nil, receiveBufferSize: receiveBufferSize,
            actions: UeventRequest.actions, keys: UeventRequest.keys, pciFunctionsOnly: true)
        self.kernelAdds = kernelAdds && source == .udev
        self.receiveBufferSize = receiveBufferSize
        wake = try UdevMonitor.Wake()
        name = self.kernelAdds ? source.rawValue + "+kernel-add" : source.rawValue
    }

    /// Whether the kernel's own `add`s may be heard beside udevd's events (the daemon then
    /// drops the second copy of each).
    public var hearsKernelAdds: Bool { kernelAdds }
    /// Whether the kernel group's socket is open now.
    public var listensForKernelAdds: Bool { kernelAddMonitor.withLock { $0 != nil } }
    /// Why a receive buffer is not the size asked for, if one is not.
    public var receiveBufferError: UdevError? {
        monitor.receiveBufferError ?? kernelAddMonitor.withLock { $0?.receiveBufferError }
    }
    /// Why the socket filter that drops the other actions in the kernel is not attached, if it
    /// is not (`UdevMonitor.actionFilterError`).
    public var actionFilterError: UdevError? {
        monitor.actionFilterError ?? kernelAddMonitor.withLock { $0?.actionFilterError }
    }
    /// The receive buffer the kernel gave the (udev or kernel) socket, in bytes.
    public var receiveBufferBytes: Int { monitor.receiveBufferBytes }

    /// Opens the kernel group's socket (no tag filter: the kernel's events carry no tags; `add`
    /// and `change` only: every other action stays with udevd's copy, in udevd's order; a
    /// `change` matters only as the end of a PF's VF creation), or closes it. A
    /// no-op without `kernelAdds`. The adds it held unread at a close are not lost: udevd's
    /// copies of them follow.
    public func listenForKernelAdds(_ listen: Bool) throws {
        guard kernelAdds else { return }
        let changed = try kernelAddMonitor.withLock { current throws -> Bool in
            switch (listen, current) {
            case (true, nil):
                current = try UdevMonitor(source: .kernel, subsystem: "pci", receiveBufferSize: receiveBufferSize,
                                          actions: UeventRequest.kernelAddActions, keys: UeventRequest.kernelAddKeys,
                                          pciFunctionsOnly: true)
                return true
            case (false, .some):
                current = nil
                return true
            default:
                return false
            }
        }
        if changed { wake.signal() }
    }

    public func start() throws -> AsyncStream<DeviceEvent> {
        let (stream, continuation) = AsyncStream<DeviceEvent>.makeStream(bufferingPolicy: .unbounded)
        let monitor = monitor
        let heard: DeviceEvent.Heard = monitor.source == .udev ? .udev : .kernel
        PosixThread.detach(name: "flavourd-udev") { [self] in
            while true {
                // The kernel monitor as it is now: held for this round even if closed meanwhile.
                let kernelAddMonitor = self.kernelAddMonitor.withLock { $0 }
                let monitors = [kernelAddMonitor, monitor].compactMap { $0 }
                let readable = UdevMonitor.wait(forAny: monitors, wake: wake, timeoutMilliseconds: -1)  // false: cancelled
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
        monitor.cancelWaits()  // the thread's every poll includes it
    }
}
