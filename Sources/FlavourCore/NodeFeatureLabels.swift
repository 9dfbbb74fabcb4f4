/// The node labels flavourd publishes through node-feature-discovery's local feature file
/// (`features.d/`: one `name=value` a line, each a node label): which devices this host has in
/// VFIO mode, so that a scheduler picks nodes by them.
///
///     feature.node.kubernetes.io/driver-flavour.vfio-ready=true
///     feature.node.kubernetes.io/driver-flavour.vfio-15b3_101e.count=4
///     feature.node.kubernetes.io/driver-flavour.vfio-15b3_101e.variant=true
///
/// Names carry NFD's own prefix, `feature.node.kubernetes.io/`, written out: NFD adds it to a
/// bare name today but will stop (its DisableAutoPrefix feature gate). Names and values follow
/// Kubernetes' label rules (`isValidName`, `isValidValue`).
public struct NodeFeatureLabels: Hashable, Sendable {
    /// A device the kernel has registered with VFIO.
    public struct Device: Hashable, Sendable {
        public let vendor: UInt32
        public let device: UInt32
        /// On a variant driver rather than the universal `vfio-pci`.
        public let variant: Bool

        public init(vendor: UInt32, device: UInt32, variant: Bool) {
            self.vendor = vendor
            self.device = device
            self.variant = variant
        }
    }

    public struct Label: Hashable, Sendable {
        public let name: String
        public let value: String
    }

    public static let prefix = "feature.node.kubernetes.io/"

    /// In this order: `vfio-ready`, then per vendor:device (in hex order) `count` and `variant`.
    public let labels: [Label]

    /// `vfioReady`: at least one of `devices` has an IOMMU group VFIO can own (every other
    /// member unbound, in VFIO mode, or on a driver that manages its own DMA).
    public init(devices: [Device], vfioReady: Bool) {
        var byID: [UInt64: (count: Int, variant: Bool)] = [:]
        for device in devices {
            let id = UInt64(device.vendor) << 32 | UInt64(device.device)
            var entry = byID[id] ?? (0, false)
            entry.count += 1
            entry.variant = entry.variant || device.variant
            byID[id] = entry
        }
        var labels = [Label(name: Self.prefix + "driver-flavour.vfio-ready", value: vfioReady ? "true" : "false")]
        for id in byID.keys.sorted() {
            let entry = byID[id]!
            let stem = Self.prefix + "driver-flavour.vfio-" + Self.hex(UInt32(id >> 32)) + "_" + Self.hex(UInt32(id & 0xFFFF_FFFF))
            labels.append(Label(name: stem + ".count", value: String(entry.count)))
            labels.append(Label(name: stem + ".variant", value: entry.variant ? "true" : "false"))
        }
        self.labels = labels
    }

    /// The feature file: a comment (never `# +`, which NFD reads as a directive), then the labels.
    public var fileText: String {
        "# Devices in VFIO mode on this host: written by flavourd(8) when they change (driver-flavour).\n"
            + labels.map { "\($0.name)=\($0.value)\n" }.joined()
    }

    /// A label name: an optional DNS-subdomain prefix and `/`, then at most 63 of
    /// `[A-Za-z0-9._-]`, starting and ending with a letter or digit.
    public static func isValidName(_ name: String) -> Bool {
        var rest = Substring(name)
        if let slash = name.lastIndex(of: "/") {
            let prefix = name[..<slash]
            guard !prefix.isEmpty, prefix.utf8.count <= 253,
                  prefix.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isDNSLabel)
            else { return false }
            rest = name[name.index(after: slash)...]
        }
        return !rest.isEmpty && isValidValue(String(rest))
    }

    /// A label value: empty, or at most 63 of `[A-Za-z0-9._-]`, starting and ending with a
    /// letter or digit.
    public static func isValidValue(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty else { return true }
        guard bytes.count <= 63, isAlphanumeric(bytes.first!), isAlphanumeric(bytes.last!) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    private static func isDNSLabel(_ label: Substring) -> Bool {
        let bytes = Array(label.utf8)
        guard !bytes.isEmpty, bytes.count <= 63, isLowerAlphanumeric(bytes.first!), isLowerAlphanumeric(bytes.last!) else {
            return false
        }
        return bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLowerAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// Four lower-case hex digits, as `lspci -n` and sysfs's `vendor` file print an id.
    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
