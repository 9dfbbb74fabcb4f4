import FlavourCore
import Testing

/// The /proc tables the in-use guard reads, with lines from a Debian 6.12 guest.
@Suite struct HostTablesTests {
    static let route = """
        Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
        eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
        eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
        lo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0

        """
    static let ipv6Route = """
        fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1
        fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth2
        00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth1
        ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth2
        00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
        fd000000000000000000000000000002 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001     eth1

        """

    @Test func ipv4RoutesAndTheDefault() {
        let table = RouteTable.parse(ipv4: Self.route, ipv6: "")
        #expect(table.routes(via: "eth0").map(\.destination) == ["default", "192.0.2.0/24"])
        #expect(table.routes(via: "eth0").map(\.isDefault) == [true, false])
        #expect(table.routes(via: "lo").isEmpty)
    }

    @Test func ipv6RoutesLeaveOutLinkLocalAndMulticast() {
        let table = RouteTable.parse(ipv4: "", ipv6: Self.ipv6Route)
        #expect(table.routes(via: "eth1").map(\.destination) == ["fd00::/64", "default (IPv6)"])
        #expect(table.routes(via: "eth1").last?.isDefault == true)
        #expect(table.routes(via: "eth2").isEmpty)
        #expect(table.routes(via: "lo").isEmpty)
    }

    @Test func ipv6AddressesLeaveOutLinkLocalAndLoopback() {
        let text = """
            00000000000000000000000000000001 01 80 10 80       lo
            fe8000000000000000fc00fffe000001 04 40 20 80     eth0
            fd000000000000000000000000000002 04 40 00 82     eth0
            20010db8000000010000000000000abc 05 40 00 80     eth1

            """
        let addresses = InterfaceAddresses.parse(ifInet6: text)
        #expect(addresses.addresses(of: "eth0") == ["fd00::2"])
        #expect(addresses.addresses(of: "eth1") == ["2001:db8:0:1::abc"])
        #expect(addresses.addresses(of: "lo").isEmpty)
    }

    @Test(arguments: [
        ("00000000000000000000000000000000", "::"),
        ("00000000000000000000000000000001", "::1"),
        ("20010db8000000000001000000000001", "2001:db8::1:0:0:1"),
        ("fe800000000000000000000000000001", "fe80::1"),
        ("20010db8000100010001000100010001", "2001:db8:1:1:1:1:1:1"),
    ])
    func ipv6Text(hex: String, text: String) {
        #expect(IPv6Text.format(hex: hex) == text)
    }

    @Test func mountinfoByMajorMinorAndSource() {
        let text = """
            22 27 0:21 / /proc rw,relatime - proc proc rw
            27 1 254:0 / / rw,relatime - ext4 /dev/disk/by-uuid/0d3f rw
            30 27 254:1 / /srv/my\\040data rw,relatime shared:5 - ext4 /dev/vdb1 rw
            31 27 0:45 /@home /home rw - btrfs /dev/vdc2 rw

            """
        let table = MountTable.parse(mountinfo: text)
        #expect(table.mounts(majorMinor: "254:0", name: "vda").map(\.mountPoint) == ["/"])
        #expect(table.mounts(majorMinor: "254:1", name: "vdb1").map(\.mountPoint) == ["/srv/my data"])
        #expect(table.mounts(majorMinor: "254:33", name: "vdc2").map(\.mountPoint) == ["/home"])
        #expect(table.mounts(majorMinor: "254:16", name: "vdb").isEmpty)
    }

    @Test func swapsByDevnode() {
        let text = """
            Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority
            /dev/nvme0n1p2                          partition\t8388604\t\t0\t\t-2
            /swap\\040file                            file\t\t1048572\t\t0\t\t-3

            """
        let swaps = SwapList.parse(swaps: text)
        #expect(swaps.files == ["/dev/nvme0n1p2", "/swap file"])
        #expect(swaps.contains(device: "nvme0n1p2"))
        #expect(!swaps.contains(device: "nvme0n1"))
    }
}
