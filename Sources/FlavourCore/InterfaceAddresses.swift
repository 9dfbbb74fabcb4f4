/// IPv6 addresses per interface from `/proc/net/if_inet6` (`net/ipv6/addrconf.c`,
/// if6_seq_show: `address ifindex prefixlen scope flags name`). Link-local and
/// host-scope addresses are left out: every interface that is up has one, so they say
/// nothing about whether the host uses it.
public struct InterfaceAddresses: Hashable, Sendable {
    public let addresses: [String: [String]]

    public init(addresses: [String: [String]]) { self.addresses = addresses }

    public func addresses(of interface: String) -> [String] { addresses[interface] ?? [] }

    /// IPV6_ADDR_LOOPBACK and IPV6_ADDR_LINKLOCAL (`include/net/ipv6.h`).
    static let ignoredScopes: Set<UInt32> = [0x10, 0x20]

    public static func parse(ifInet6 text: String) -> InterfaceAddresses {
        var result: [String: [String]] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 6, let scope = UInt32(fields[3], radix: 16), !ignoredScopes.contains(scope),
                  !IPv6Text.isLinkLocalOrMulticast(hex: fields[0]), let address = IPv6Text.format(hex: fields[0])
            else { continue }
            result[String(fields[5]), default: []].append(address)
        }
        return InterfaceAddresses(addresses: result)
    }
}
