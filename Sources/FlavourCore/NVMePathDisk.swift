/// The name of a hidden NVMe path disk under native multipath, `nvme<S>c<C>n<N>`:
/// subsystem instance S, controller instance C, namespace head instance N
/// (`drivers/nvme/host/core.c`, nvme_alloc_ns). The disk that is mounted is its head,
/// `nvme<S>n<N>` (`drivers/nvme/host/multipath.c`, nvme_mpath_alloc_disk), and the
/// controller is `nvme<C>`. sysfs on 6.12 links neither to the other (the head's
/// `multipath/` links came in 6.15): the names are the kernel's own tie.
public struct NVMePathDisk: Hashable, Sendable {
    public let subsystem: Int
    public let controller: Int
    public let namespace: Int

    public init(subsystem: Int, controller: Int, namespace: Int) {
        self.subsystem = subsystem
        self.controller = controller
        self.namespace = namespace
    }

    /// Nil for any other block device name (`nvme0n1`, `nvme0n1p1`, `sda`).
    public init?(_ name: String) {
        guard name.hasPrefix("nvme") else { return nil }
        let rest = name.dropFirst(4)
        guard let c = rest.firstIndex(of: "c"), let n = rest[c...].firstIndex(of: "n"),
              let subsystem = Self.number(rest[..<c]), let controller = Self.number(rest[rest.index(after: c)..<n]),
              let namespace = Self.number(rest[rest.index(after: n)...])
        else { return nil }
        self.init(subsystem: subsystem, controller: controller, namespace: namespace)
    }

    /// `nvme<S>n<N>`, the block device the path serves.
    public var head: String { "nvme\(subsystem)n\(namespace)" }
    /// `nvme<C>`, the controller's name, as the subsystem's link to it is named.
    public var controllerName: String { "nvme\(controller)" }
    public var name: String { "nvme\(subsystem)c\(controller)n\(namespace)" }

    /// Decimal digits only, as `%d` of a non-negative instance prints them.
    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 9, text.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        return Int(text)
    }
}
