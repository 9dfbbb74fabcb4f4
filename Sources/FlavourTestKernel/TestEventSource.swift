import FlavourEngine
import Synchronization

/// The test kernel's uevents as the daemon's event source (a netlink listener's view),
/// including what a listener sees when its receive buffer overruns: events dropped, then
/// `DeviceEvent.lost` (the ENOBUFS of the next recvmsg).
public final class TestEventSource: DeviceEventSource, Sendable {
    public let name = "test"
    let kernel: TestKernel
    private struct State {
        var continuation: AsyncStream<DeviceEvent>.Continuation?
        var dropping = false
        var dropped = 0
    }
    private let state = Mutex(State())

    public init(kernel: TestKernel) {
        self.kernel = kernel
        kernel.subscribe { [weak self] uevent in
            self?.state.withLock { state in
                guard !state.dropping else {
                    state.dropped += 1
                    return
                }
                _ = state.continuation?.yield(
                    DeviceEvent(action: uevent.action, sysName: uevent.address.description, properties: uevent.properties))
            }
        }
    }

    public func start() throws -> AsyncStream<DeviceEvent> {
        let (stream, continuation) = AsyncStream<DeviceEvent>.makeStream(bufferingPolicy: .unbounded)
        state.withLock { $0.continuation = continuation }
        return stream
    }

    public func stop() { state.withLock { $0.continuation?.finish() } }

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
}
