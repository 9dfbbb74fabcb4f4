#!/usr/bin/env bash
# The in-use guard on the real kernel: the e1000e's interface, up with an address and the
# guest's default route, is the host's network. flavourctl apply refuses it (exit 1, the reason
# named, nothing written), flavourd answers a synthetic request with a rejection and leaves the
# device alone, and --force takes it anyway. (Addresses are TEST-NET-1: the guest's NICs hang on
# an unconnected QEMU hub, nothing leaves the guest.)
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

addr=$(find_dev "${E1000E_ID[@]}")
[[ "$(driver_of "$addr")" == e1000e ]] || apply "$addr" none
expect_driver "$addr" e1000e
expect_netdev "$addr"
iface=$(basename "$(netdevs "$addr" | head -n1)")
[[ -n "$iface" ]] || fail "$addr has no network interface"

run ip link set "$iface" up
run ip addr add 192.0.2.15/24 dev "$iface"
run ip route add default via 192.0.2.1 dev "$iface"
run ip route show

# flavourctl: refused, one reason naming the interface and the default route, nothing written.
if out=$(flavourctl apply "$addr" vfio 2>&1); then
    printf '%s\n' "$out"
    fail "flavourctl apply took $addr although $iface carries the default route"
fi
printf '%s\n' "$out"
[[ "$out" == *"in use by the host"* && "$out" == *"$iface"* && "$out" == *"default route"* ]] ||
    fail "the refusal does not name $iface and the default route"
expect_driver "$addr" e1000e
[[ "$(cat "$SYSFS_PCI/$addr/driver_override")" == "(null)" ]] || fail "driver_override was written"
note "ok: flavourctl refused and wrote nothing"

# flavourd: the same refusal, as a rejected outcome.
expect_daemon_refuses "$addr" "default route"

# --force takes it, and the revert gives it back (with a fresh, unconfigured interface).
run flavourctl apply --force "$addr" vfio || fail "flavourctl apply --force exited $?"
[[ "$(driver_of "$addr")" == *vfio* ]] || fail "$addr is on '$(driver_of "$addr")' after --force"
apply "$addr" none
expect_driver "$addr" e1000e
expect_netdev "$addr"
