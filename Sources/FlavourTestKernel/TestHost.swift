import FlavourCore

/// What the simulated host uses: interfaces and their addresses and routes, block
/// devices and their mounts, swap and holders. Rendered into `<root>/proc` and into
/// the sysfs tree by `TestKernel+Host`.
struct TestHost {
    struct Interface {
        /// Absolute path of its sysfs directory.
        var directory: String
        var up: Bool
        var routes: [TestRoute]
        /// IPv6 addresses in text form (`fd00::2`).
        var ipv6: [String]
    }

    struct BlockDevice {
        /// Absolute path of its sysfs directory.
        var directory: String
        var majorMinor: String
    }

    struct Mount {
        var block: String
        var mountPoint: String
        var source: String
    }

    var interfaces: [String: Interface] = [:]
    /// Interface names in the order they were set, for stable /proc files.
    var interfaceOrder: [String] = []
    var blocks: [String: BlockDevice] = [:]
    var mounts: [Mount] = []
    var swaps: [String] = []
    /// virtio block disks take majors 254 upwards, as virtio_blk's dynamic major does.
    var nextMinor = 0
    var nextVirtioIndex = 0
}
