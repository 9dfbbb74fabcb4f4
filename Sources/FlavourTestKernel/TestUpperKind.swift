/// What kind of upper device the simulated host stacks on an interface, and so what
/// the kernel leaves in both directories besides the `upper_<name>` link.
public enum TestUpperKind: Sendable {
    /// `bridge/` in the bridge, `brport/` and `master` in each port (`net/bridge/br_sysfs_*.c`).
    case bridge
    /// `bonding/` in the bond, `bonding_slave/` and `master` in each slave (`drivers/net/bonding`).
    case bond
    /// An 802.1Q VLAN (`eth0.100`): only the adjacency links, no master.
    case vlan
    /// Open vSwitch's datapath (`ovs-system`): each external port's `master`, no `bridge/`,
    /// run by the `openvswitch` driver (`net/openvswitch/vport-netdev.c`, ovs_netdev_link);
    /// it stays down.
    case openVSwitchDatapath
    /// A virtual interface on nothing (an OVS internal port, `br0`).
    case virtual
}
