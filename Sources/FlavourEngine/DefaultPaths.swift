#if canImport(Glibc)
import Glibc
#endif

/// Where driver-flavour looks when no option says otherwise. Written once here; flavourd's
/// command line and flavourctl's options both take their defaults from it.
public enum DefaultPaths {
    public static let sysfsRoot = "/sys"
    /// Read by the in-use guard (mounts, swaps, routes).
    public static let procRoot = "/proc"
    /// Device nodes, opened by the in-use guard's O_EXCL probe of a block device.
    public static let devRoot = "/dev"
    /// The admin's `*.conf` files, read in lexical order.
    public static let configDirectory = "/etc/driver-flavour.d"
    /// flavourd's runtime state (`RunDirectory`).
    public static let runDirectory = "/run/driver-flavour"
    /// node_exporter's textfile collector reads `*.prom` here (Debian's prometheus-node-exporter).
    public static let metricsDirectory = "/var/lib/prometheus/node-exporter"
    /// node-feature-discovery's local feature files: each `name=value` line becomes a node label.
    public static let nodeLabelsDirectory = "/etc/kubernetes/node-feature-discovery/features.d"
    /// The file in the config directory `flavourctl set --persist` keeps standing requests in.
    public static let persistedRequestsFile = "90-flavourctl-persisted.conf"

    /// `/lib/modules/$(uname -r)`.
    public static func modulesDirectory() -> String {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "/lib/modules/" + release
    }
}
