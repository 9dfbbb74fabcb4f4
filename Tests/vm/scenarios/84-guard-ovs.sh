#!/usr/bin/env bash
# vm-profile: guard
# An Open vSwitch uplink: the NIC is a port of bridge br-guard, whose address is on the
# bridge's internal port. The port's master, the datapath ovs-system, stays down, and the
# internal port is no upper device of the NIC: what ties them is the openvswitch driver that
# runs both (ethtool). flavourctl and flavourd refuse the NIC naming the datapath and the
# bridge; --force takes it.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

addr=$(find_dev "${VIRTIO_NET_ID[@]}")
[[ "$(driver_of "$addr")" == virtio-pci ]] || apply "$addr" none
expect_netdev "$addr"
iface=$(basename "$(netdevs "$addr" | head -n1)")

cleanup() {
    ovs-vsctl --if-exists del-br br-guard 2>/dev/null || true
    systemctl stop openvswitch-switch 2>/dev/null || true
    [[ "$(driver_of "$addr")" == virtio-pci ]] || flavourctl apply "$addr" none >/dev/null 2>&1 || true
}
trap cleanup EXIT
run systemctl start openvswitch-switch
run ovs-vsctl add-br br-guard
run ovs-vsctl add-port br-guard "$iface"
run ip link set "$iface" up
run ip link set br-guard up
run ip addr add 192.0.2.40/24 dev br-guard
run ip -br link show
note "$iface's master: $(basename "$(readlink "/sys/class/net/$iface/master")") ($(cat /sys/class/net/ovs-system/operstate))"

expect_apply_refused "$addr" vfio "in use" "ovs-system" "br-guard"
expect_daemon_refuses "$addr" "br-guard"

run flavourctl apply --force "$addr" vfio || fail "flavourctl apply --force exited $?"
[[ "$(driver_of "$addr")" == *vfio* ]] || fail "$addr is on '$(driver_of "$addr")' after --force"
apply "$addr" none
expect_driver "$addr" virtio-pci
