#!/usr/bin/env bash
# vm-profile: guard
# A NIC whose interface lives in another network namespace with an address, as a container's
# or a CNI plugin's does: flavourd's own namespace no longer shows the interface (sysfs lists a
# namespace's interfaces only to readers in it), yet the host uses the NIC. flavourctl apply and
# flavourd refuse it, saying the interface is in another network namespace; --force takes it,
# and a revert gives it back (its new interface appears in the initial namespace).
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

NS=guard-container
addr=$(find_dev "${E1000E_ID[@]}")
[[ "$(driver_of "$addr")" == e1000e ]] || apply "$addr" none
expect_netdev "$addr"
iface=$(basename "$(netdevs "$addr" | head -n1)")

cleanup() {
    ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
run ip netns add "$NS"
run ip link set "$iface" netns "$NS"
run ip -n "$NS" link set "$iface" up
run ip -n "$NS" addr add 192.0.2.25/24 dev "$iface"
run ip -n "$NS" addr show "$iface"
run ls -la "$SYSFS_PCI/$addr/net"

expect_apply_refused "$addr" vfio "in use" "network namespace"
out=$(flavourctl explain "$addr" 2>&1) || true
printf '%s\n' "$out"
grep -q "in use by the host: .*network namespace" <<<"$out" || fail "explain does not report the interface in another namespace"
expect_daemon_refuses "$addr" "network namespace"

run flavourctl apply --force "$addr" vfio || fail "flavourctl apply --force exited $?"
[[ "$(driver_of "$addr")" == *vfio* ]] || fail "$addr is on '$(driver_of "$addr")' after --force"
apply "$addr" none
expect_driver "$addr" e1000e
expect_netdev "$addr"
