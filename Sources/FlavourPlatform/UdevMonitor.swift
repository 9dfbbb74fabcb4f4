import CFlavourShim
import CUdev
import FlavourPOSIX
import Glibc
import Synchronization

/// A libudev netlink monitor filtered to one subsystem: owns its `udev` context and
/// `udev_monitor`, both released in `deinit`.
///
/// `Sendable` because every use of the libudev objects happens under one lock;
/// `wait` only polls descriptors and never takes it, so a thread blocked in `wait`
/// does not hold up `receive` or `cancelWaits` on another.
public final class UdevMonitor: Sendable {
    private struct Handles {
        let udev: OpaquePointer
        let monitor: OpaquePointer
    }

    private let handles: Mutex<Handles>
    /// The monitor's netlink socket (non-blocking), for poll/epoll by the caller.
    public let fileDescriptor: Int32
    /// Becomes readable, and stays so, after `cancelWaits()`.
    private let cancelDescriptor: Int32
    public let source: UdevEventSource
    /// The actions delivered (nil: all). Events of other actions are dropped in the kernel by
    /// `UeventActionFilter` (a bind or unbind echo never wakes the receiver), and on receipt
    /// the few the filter cannot read.
    public let actions: Set<String>?
    /// The properties copied out of each event (nil: all): a PCI event from udevd carries about
    /// twenty (hwdb names, paths), of which a reader may need a handful.
    public let keys: Set<String>?
    /// Why the receive buffer could not be set to the size asked for (SO_RCVBUFFORCE needs
    /// CAP_NET_ADMIN to exceed net.core.rmem_max); the monitor works, but an event storm may
    /// overrun it.
    public let receiveBufferError: UdevError?
    /// Why `UeventActionFilter` could not be attached (`actions` given): the monitor works, and
    /// drops the other actions after receiving them.
    public let actionFilterError: UdevError?

    /// Bytes asked of the kernel for the socket's receive queue by default, so a storm of
    /// uevents (1,000 VFs appearing at once) is queued rather than dropped (ENOBUFS).
    public static let receiveBufferSize: Int32 = 8 * 1024 * 1024

    /// What one `receive` found.
    public enum Received: Equatable, Sendable {
        case event(UdevEvent)
        /// Nothing queued.
        case nothing
        /// The receive buffer overran (ENOBUFS): events were dropped by the kernel. Said once;
        /// what was queued after the overrun is received next.
        case overrun
    }

    /// - Parameters:
    ///   - source: the netlink group; see `UdevEventSource.detect()`.
    ///   - subsystem: only events of this subsystem are delivered (filtered in the kernel by BPF).
    ///   - tag: only events of devices udev tagged with this; tags are set by udev rules,
    ///     so the filter applies to the `udev` source only (kernel events carry no tags
    ///     and a tag filter would silence a `kernel` monitor completely).
    ///   - receiveBufferSize: bytes asked for the socket's receive queue (the kernel doubles it
    ///     for its own bookkeeping, `net/core/sock.c`).
    ///   - actions: only events of these actions are delivered (nil: all).
    ///   - keys: only these properties are copied into an event (nil: all).
    ///   - pciFunctionsOnly: for the pci subsystem: the kernel's messages about devices whose
    ///     name is not a PCI function's are dropped in the kernel with the other actions
    ///     (`actions` given; `UeventActionFilter`).
    public init(
        source: UdevEventSource, subsystem: String = "pci", tag: String? = nil,
        receiveBufferSize: Int32 = UdevMonitor.receiveBufferSize, actions: Set<String>? = nil, keys: Set<String>? = nil,
        pciFunctionsOnly: Bool = false
    ) throws(UdevError) {
        guard let udev = udev_new() else {
            throw UdevError(operation: "udev_new", argument: "", errno: errno)
        }
        guard let monitor = udev_monitor_new_from_netlink(udev, source.rawValue) else {
            let code = errno
            udev_unref(udev)
            throw UdevError(operation: "udev_monitor_new_from_netlink", argument: "source \(source.rawValue)", errno: code)
        }
        func fail(_ operation: String, _ argument: String, _ result: Int32) -> UdevError {
            udev_monitor_unref(monitor)
            udev_unref(udev)
            return UdevError(operation: operation, argument: argument, errno: result < 0 ? -result : errno)
        }

        var result = udev_monitor_filter_add_match_subsystem_devtype(monitor, subsystem, nil)
        if result < 0 { throw fail("udev_monitor_filter_add_match_subsystem_devtype", "subsystem \(subsystem)", result) }
        if let tag, source == .udev {
            result = udev_monitor_filter_add_match_tag(monitor, tag)
            if result < 0 { throw fail("udev_monitor_filter_add_match_tag", "tag \(tag)", result) }
        }
        result = udev_monitor_set_receive_buffer_size(monitor, receiveBufferSize)
        receiveBufferError = result < 0
            ? UdevError(operation: "udev_monitor_set_receive_buffer_size", argument: "\(receiveBufferSize) bytes", errno: -result)
            : nil
        result = udev_monitor_enable_receiving(monitor)
        if result < 0 { throw fail("udev_monitor_enable_receiving", "source \(source.rawValue)", result) }
        // After libudev attached its own filter (subsystem, tag; none on the kernel's group):
        // the action checks go in front of it.
        actionFilterError = actions.flatMap {
            SocketFilter.dropOtherActions($0, pciFunctionsOnly: pciFunctionsOnly, on: udev_monitor_get_fd(monitor))
        }

        let cancel = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        if cancel < 0 { throw fail("eventfd", "cancel descriptor", -errno) }

        self.fileDescriptor = udev_monitor_get_fd(monitor)
        self.cancelDescriptor = cancel
        self.source = source
        self.actions = actions
        self.keys = keys
        self.handles = Mutex(Handles(udev: udev, monitor: monitor))
    }

    deinit {
        handles.withLock { handles in
            udev_monitor_unref(handles.monitor)
            udev_unref(handles.udev)
        }
        close(cancelDescriptor)
    }

    /// The next queued event, nothing, or an overrun (never blocks). libudev returns NULL for
    /// all but an event; only errno tells an overrun (recvmsg's ENOBUFS, passed on by
    /// sd-device's monitor) from an empty queue.
    public func receive() -> Received {
        handles.withLock { handles in
            while true {
                guard let device = udev_monitor_receive_device(handles.monitor) else {
                    return errno == ENOBUFS ? .overrun : .nothing
                }
                defer { udev_device_unref(device) }
                if let actions, let action = udev_device_get_action(device), !actions.contains(String(cString: action)) {
                    continue
                }
                return .event(UdevEvent(device: device, keys: keys))
            }
        }
    }

    /// The receive buffer the kernel gave the socket (SO_RCVBUF: twice what was asked for, or
    /// net.core.rmem_max doubled when asking failed).
    public var receiveBufferBytes: Int {
        var size: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fileDescriptor, SOL_SOCKET, SO_RCVBUF, &size, &length) == 0 else { return 0 }
        return Int(size)
    }

    /// Blocks in poll(2), without spinning, until an event can be received (true),
    /// the timeout passes or `cancelWaits()` was called (false). A negative timeout
    /// waits forever.
    public func wait(timeoutMilliseconds: Int32) -> Bool {
        var entries = [
            pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: cancelDescriptor, events: Int16(POLLIN), revents: 0),
        ]
        let count = Syscall.retrying { poll(&entries, 2, timeoutMilliseconds) }
        guard count > 0, entries[1].revents == 0 else { return false }
        return entries[0].revents != 0
    }

    /// Blocks in one poll(2) on several monitors (a thread that serves the udev and the
    /// kernel group) until one of them can receive or `wake` was signalled (true; the signal
    /// is cleared), the timeout passes or `cancelWaits()` was called on any of them (false).
    public static func wait(forAny monitors: [UdevMonitor], wake: Wake? = nil, timeoutMilliseconds: Int32) -> Bool {
        var entries = monitors.map { pollfd(fd: $0.cancelDescriptor, events: Int16(POLLIN), revents: 0) }
            + monitors.map { pollfd(fd: $0.fileDescriptor, events: Int16(POLLIN), revents: 0) }
            + [pollfd(fd: wake?.descriptor ?? -1, events: Int16(POLLIN), revents: 0)]  // poll skips a negative fd
        let count = Syscall.retrying { poll(&entries, nfds_t(entries.count), timeoutMilliseconds) }
        guard count > 0, entries[..<monitors.count].allSatisfy({ $0.revents == 0 }) else { return false }
        if let wake, entries[entries.count - 1].revents != 0 {
            var value: eventfd_t = 0
            _ = eventfd_read(wake.descriptor, &value)  // cleared: the next signal wakes again
        }
        return entries[monitors.count...].contains { $0.revents != 0 }
    }

    /// Wakes a `wait(forAny:wake:)` without an event, for a thread whose set of monitors
    /// changes (flavourd's kernel-add monitor, opened and closed as standing requests come
    /// and go): it returns true, and the thread looks at its monitors again.
    public final class Wake: Sendable {
        let descriptor: Int32

        public init() throws(UdevError) {
            descriptor = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
            if descriptor < 0 { throw UdevError(operation: "eventfd", argument: "wake descriptor", errno: errno) }
        }

        deinit { close(descriptor) }

        public func signal() {
            _ = Syscall.retrying { eventfd_write(descriptor, 1) }
        }
    }

    /// Makes every current and future `wait` return false at once: the way to stop a
    /// thread that waits forever (graceful shutdown) without a timeout loop.
    public func cancelWaits() {
        _ = Syscall.retrying { eventfd_write(cancelDescriptor, 1) }
    }
}

extension UdevEvent {
    /// Copies a `udev_device`, which the caller still owns, out: its `keys` properties (nil:
    /// every one).
    init(device: OpaquePointer, keys: Set<String>? = nil) {
        func string(_ pointer: UnsafePointer<CChar>?) -> String? {
            pointer.map { String(cString: $0) }
        }
        var properties: [String: String] = [:]
        if let keys {
            for key in keys {
                if let value = string(udev_device_get_property_value(device, key)) { properties[key] = value }
            }
        } else {
            var entry = udev_device_get_properties_list_entry(device)
            while let current = entry {
                if let name = string(udev_list_entry_get_name(current)) {
                    properties[name] = string(udev_list_entry_get_value(current)) ?? ""
                }
                entry = udev_list_entry_get_next(current)
            }
        }
        self.init(
            action: string(udev_device_get_action(device)) ?? properties["ACTION"] ?? "",
            sysPath: string(udev_device_get_syspath(device)) ?? "",
            sysName: string(udev_device_get_sysname(device)) ?? "",
            subsystem: string(udev_device_get_subsystem(device)),
            seqnum: UInt64(udev_device_get_seqnum(device)),
            properties: properties
        )
    }
}
