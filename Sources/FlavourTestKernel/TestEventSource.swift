import FlavourEngine
import Synchronization

/// The test kernel's uevents as the daemon's event source (a netlink listener's view).
public final class TestEventSource: DeviceEventSource, Sendable {
    public let name = "test"
    let kernel: TestKernel
    private let continuation = Mutex<AsyncStream<DeviceEvent>.Continuation?>(nil)

    public init(kernel: TestKernel) {
        self.kernel = kernel
        kernel.subscribe { [weak self] uevent in
            self?.continuation.withLock {
                _ = $0?.yield(DeviceEvent(action: uevent.action, sysName: uevent.address.description, properties: uevent.properties))
            }
        }
    }

    public func start() throws -> AsyncStream<DeviceEvent> {
        let (stream, continuation) = AsyncStream<DeviceEvent>.makeStream(bufferingPolicy: .unbounded)
        self.continuation.withLock { $0 = continuation }
        return stream
    }

    public func stop() { continuation.withLock { $0?.finish() } }
}
