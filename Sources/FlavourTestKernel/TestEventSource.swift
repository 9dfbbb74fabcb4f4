import FlavourCore
import FlavourEngine
import Synchronization

/// The test kernel's uevents as the daemon's event source (a netlink listener's view),
/// including what a listener sees when its receive buffer overruns: events dropped, then
/// `DeviceEvent.lost` (the ENOBUFS of the next recvmsg).
///
/// Every uevent is heard as udevd's copy (`heard: .udev`, with a property udevd's rules
/// add). With `kernelAdds` the source also hears the kernel's own group for `add`, as the udev
/// source beside `--kernel-adds yes` does while the daemon listens (`listenForKernelAdds`):
/// the kernel's `add` first, as sent, and udevd's copy (the same SEQNUM) after it, or much
/// later (`udevLagging`), or never (`udevDropping`).
public final class TestEventSource: DeviceEventSource, Sendable {
    public let name: String
    let kernel: TestKernel
    public let kernelAdds: Bool
    public var hearsKernelAdds: Bool { kernelAdds }
    /// A property only udevd's copy carries (hwdb's import at `add`, 20-pci-vendor-model.rules).
    public static let udevProperty = "ID_VENDOR_FROM_DATABASE"

    private struct State {
        var continuation: AsyncStream<DeviceEvent>.Continuation?
        var dropping = false
        var dropped = 0
        var droppingKernelAdds = false
        var udevLagging = false
        var udevDropping = false
        var udevAhead = false
        /// Whether the daemon asked for the kernel's adds (`listenForKernelAdds`).
        var listening = false
        /// udevd's copies not sent yet (its backlog).
        var backlog: [DeviceEvent] = []
    }
    private let state = Mutex(State())

    public init(kernel: TestKernel, kernelAdds: Bool = false) {
        self.kernel = kernel
        self.kernelAdds = kernelAdds
        self.name = kernelAdds ? "test+kernel-add" : "test"
        kernel.subscribe { [weak self] uevent in
            guard let self else { return }
            let sysName = uevent.address.description
            state.withLock { state in
                guard !state.dropping else {
                    state.dropped += 1
                    return
                }
                // As UdevDeviceEventSource's kernel-add monitor: `add` and `change` only, plain ones only.
                let kernelAdd = self.kernelAdds && state.listening && UeventRequest.kernelAddActions.contains(uevent.action)
                    && !state.droppingKernelAdds
                    && UeventRequest.actsOnKernelAdd(uevent.properties)
                    ? DeviceEvent(
                        action: uevent.action, sysName: sysName,
                        properties: uevent.properties.filter { UeventRequest.kernelAddKeys.contains($0.key) },
                        seqnum: uevent.seqnum, heard: .kernel)
                    : nil
                var copy: DeviceEvent? = nil
                if !state.udevDropping {
                    var properties = uevent.properties
                    properties[Self.udevProperty] = "Test Vendor"
                    copy = DeviceEvent(action: uevent.action, sysName: sysName, properties: properties, seqnum: uevent.seqnum, heard: .udev)
                }
                // udevd's copy read ahead of the kernel's own: the two sockets are drained one
                // after the other, and a quick udevd's copy can be read first.
                if state.udevAhead, let copy {
                    _ = state.continuation?.yield(copy)
                    if let kernelAdd { _ = state.continuation?.yield(kernelAdd) }
                    return
                }
                if let kernelAdd { _ = state.continuation?.yield(kernelAdd) }
                guard let copy else { return }
                if state.udevLagging {
                    state.backlog.append(copy)
                } else {
                    _ = state.continuation?.yield(copy)
                }
            }
        }
    }

    public func start() throws -> AsyncStream<DeviceEvent> {
        let (stream, continuation) = AsyncStream<DeviceEvent>.makeStream(bufferingPolicy: .unbounded)
        state.withLock { $0.continuation = continuation }
        return stream
    }

    public func stop() { state.withLock { $0.continuation?.finish() } }

    public func listenForKernelAdds(_ listen: Bool) throws { state.withLock { $0.listening = kernelAdds && listen } }

    /// Whether the kernel's adds are heard now.
    public var listensForKernelAdds: Bool { state.withLock { $0.listening } }

    /// Delivers an event as if the kernel had sent it (a uevent heard late, or twice).
    public func inject(_ event: DeviceEvent) {
        state.withLock { _ = $0.continuation?.yield(event) }
    }

    /// An overrun: the uevents the kernel sends during `body` are lost, as a full receive
    /// buffer loses them; then the listener hears that events were lost. Returns how many.
    @discardableResult
    public func losingEvents(_ body: () throws -> Void) rethrows -> Int {
        state.withLock { $0.dropping = true }
        defer {
            state.withLock { state in
                state.dropping = false
                _ = state.continuation?.yield(.lost)
            }
        }
        try body()
        return state.withLock { $0.dropped }
    }

    /// The kernel-add socket overruns: the kernel's `add`s sent during `body` are lost, then
    /// the listener hears so (`DeviceEvent.kernelAddsLost`); udevd's copies still come.
    public func losingKernelAdds(_ body: () throws -> Void) rethrows {
        state.withLock { $0.droppingKernelAdds = true }
        defer {
            state.withLock { state in
                state.droppingKernelAdds = false
                _ = state.continuation?.yield(.kernelAddsLost)
            }
        }
        try body()
    }

    /// udevd falls behind (a slow rule): its copies of the uevents sent during `body` wait
    /// in its backlog until `udevCatchesUp()`.
    public func udevLagging(_ body: () throws -> Void) rethrows {
        state.withLock { $0.udevLagging = true }
        defer { state.withLock { $0.udevLagging = false } }
        try body()
    }

    /// udevd sends its backlog, in order. Returns how many copies it sent.
    @discardableResult
    public func udevCatchesUp() -> Int {
        state.withLock { state in
            let backlog = state.backlog
            state.backlog.removeAll()
            for copy in backlog { _ = state.continuation?.yield(copy) }
            return backlog.count
        }
    }

    /// udevd's copies of the `add`s sent during `body` are read before the kernel's own.
    public func udevAhead(_ body: () throws -> Void) rethrows {
        state.withLock { $0.udevAhead = true }
        defer { state.withLock { $0.udevAhead = false } }
        try body()
    }

    /// udevd never sends its copies of the uevents sent during `body` (it dropped them).
    public func udevDropping(_ body: () throws -> Void) rethrows {
        state.withLock { $0.udevDropping = true }
        defer { state.withLock { $0.udevDropping = false } }
        try body()
    }
}
