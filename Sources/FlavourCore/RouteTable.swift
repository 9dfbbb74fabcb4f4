/// The kernel's routes per interface, from `/proc/net/route` (IPv4, main table) and
/// `/proc/net/ipv6_route`. Used to tell whether a network interface carries traffic
/// the host depends on; the default route is singled out.
public struct RouteTable: Hashable, Sendable {
    public struct Route: Hashable, Sendable, CustomStringConvertible {
        public let interface: String
        /// `10.0.2.0/24`, `fd00::/64`, `default`.
        public let destination: String
        public let isDefault: Bool

        public var description: String { destination }
    }

    public let routes: [Route]

    public init(routes: [Route]) { self.routes = routes }

    public func routes(via interface: String) -> [Route] { routes.filter { $0.interface == interface } }

    /// Parses both files; unreadable lines are skipped (the kernel writes them, but a
    /// truncated read must not make the guard throw).
    public static func parse(ipv4: String, ipv6: String) -> RouteTable {
        RouteTable(routes: parseIPv4(ipv4) + parseIPv6(ipv6))
    }

    /// `net/ipv4/fib_trie.c`, fib_route_seq_show: `Iface Destination Gateway Flags RefCnt
    /// Use Metric Mask MTU Window IRTT`, addresses as `%08X` of the big-endian value, so
    /// the first octet is the lowest byte on the little-endian hosts this runs on.
    static func parseIPv4(_ text: String) -> [Route] {
        text.split(whereSeparator: \.isNewline).dropFirst().compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 8, let destination = UInt32(fields[1], radix: 16), let mask = UInt32(fields[7], radix: 16)
            else { return nil }
            let interface = String(fields[0])
            guard interface != "lo" else { return nil }
            if destination == 0 && mask == 0 { return Route(interface: interface, destination: "default", isDefault: true) }
            let octets = (0..<4).map { String(destination >> (8 * $0) & 0xFF) }.joined(separator: ".")
            return Route(interface: interface, destination: "\(octets)/\(mask.nonzeroBitCount)", isDefault: false)
        }
    }

    /// `net/ipv6/route.c`, ipv6_route_native_seq_show: `dest destlen src srclen nexthop
    /// metric refcnt use flags iface`. Link-local (fe80::/10) and multicast (ff00::/8)
    /// routes exist on every interface that is merely up: they say nothing about use.
    static func parseIPv6(_ text: String) -> [Route] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 10, fields[0].utf8.count == 32, let length = Int(fields[1], radix: 16),
                  let address = IPv6Text.format(hex: fields[0])
            else { return nil }
            let interface = String(fields[9])
            // RTF_LOCAL (`include/uapi/linux/ipv6_route.h`) routes are the host's own
            // addresses, already reported from if_inet6.
            let flags = UInt32(fields[8], radix: 16) ?? 0
            guard interface != "lo", flags & 0x8000_0000 == 0, !IPv6Text.isLinkLocalOrMulticast(hex: fields[0]) else { return nil }
            if length == 0 && fields[0].allSatisfy({ $0 == "0" }) {
                return Route(interface: interface, destination: "default (IPv6)", isDefault: true)
            }
            return Route(interface: interface, destination: "\(address)/\(length)", isDefault: false)
        }
    }
}
