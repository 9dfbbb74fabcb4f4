/// A route the simulated host has through an interface.
public enum TestRoute: Hashable, Sendable {
    /// 0.0.0.0/0 via 10.0.2.2, in `/proc/net/route`.
    case `default`
    /// An IPv4 prefix route, e.g. `10.0.2.0/24`.
    case subnet(String)
    /// ::/0 via fd00::1, in `/proc/net/ipv6_route`.
    case defaultIPv6
}
