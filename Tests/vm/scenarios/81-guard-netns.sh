#!/usr/bin/env bash
# vm-profile: guard
# A NIC whose interface lives in another network namespace with an address, as a container's
# or a CNI plugin's does: flavourd's own namespace no longer shows the interface (sysfs lists a
# namespace's interfaces only to readers in it), yet the host uses the NIC. With no process in
# the namespace nothing shows whether it is used: refused. With a process that has the
# namespace's own sysfs (ip netns exec mounts one) the guard looks in: the address's route
# makes it in use, named with the namespace; without the address it is shown to be idle.
# flavourctl apply and flavourd refuse it; --force takes it, and a revert gives it back (its
# new interface appears in the initial namespace).
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

NS=guard-container
addr=$(find_dev "${E1000E_ID[@]}")
[[ "$(driver_of "$addr")" == e1000e ]] || apply "$addr" none
expect_netdev "$addr"
iface=$(basename "$(netdevs "$addr" | head -n1)")

holder=
cleanup() {
    if [[ -n "$holder" ]]; then kill "$holder" 2>/dev/null || true; fi
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

# A process in the namespace, as a container has: the guard sees the interface and its route.
ip netns exec "$NS" sleep 600 &
holder=$!
wait_until 5 test -e "/proc/$holder/root/sys/class/net/$iface" || fail "the namespace's sysfs does not show $iface"
expect_apply_refused "$addr" vfio "in use" "network interface $iface in network namespace" "(of sleep, pid $holder)" "192.0.2.0/24"
expect_daemon_refuses "$addr" "(of sleep, pid $holder)"
# Without its address it is shown to be idle there: free.
run ip -n "$NS" addr flush dev "$iface"
out=$(flavourctl explain "$addr" 2>&1) || true
grep -q "^in use by the host: no$" <<<"$out" || fail "explain does not show $addr free once its interface is idle: $(grep 'in use' <<<"$out")"
note "ok: the idle interface in $NS leaves $addr free"
run ip -n "$NS" addr add 192.0.2.25/24 dev "$iface"

run flavourctl apply --force "$addr" vfio || fail "flavourctl apply --force exited $?"
[[ "$(driver_of "$addr")" == *vfio* ]] || fail "$addr is on '$(driver_of "$addr")' after --force"
apply "$addr" none
expect_driver "$addr" e1000e
expect_netdev "$addr"
