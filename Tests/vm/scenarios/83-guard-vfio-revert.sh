#!/usr/bin/env bash
# vm-profile: guard
# A device a VFIO user holds open (a running VM's QEMU; here vfio-client --hold, with the group
# and the device fd, running as nobody as libvirt runs QEMU). Unbinding it would block in
# vfio_unregister_group_dev until the user lets go, and the user's guest loses the device. A
# revert (`none`), through flavourctl and through flavourd, is refused naming the holder; the
# device stays bound and the holder alive. With --force the revert waits for the holder (the
# kernel asks it to let go), and once it is gone the device is back on its own driver; the
# override is in the journal.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

addr=$(find_dev "${VIRTIO_NET_ID[@]}")
[[ "$(driver_of "$addr")" == *vfio* ]] || apply "$addr" vfio
vfio_driver=$(driver_of "$addr")
[[ "$vfio_driver" == *vfio* ]] || fail "$addr is on '$vfio_driver', not a VFIO driver"

group=$(basename "$(readlink "$SYSFS_PCI/$addr/iommu_group")")
holder= forced=
cleanup() {
    if [[ -n "$holder" ]]; then kill "$holder" 2>/dev/null || true; fi
    if [[ -n "$forced" ]]; then wait "$forced" 2>/dev/null || true; fi
    if [[ -e "/dev/vfio/$group" ]]; then chown root "/dev/vfio/$group"; fi
    [[ "$(driver_of "$addr")" == virtio-pci ]] || flavourctl apply "$addr" none >/dev/null 2>&1 || true
}
trap cleanup EXIT
# As libvirt does for its QEMU: the group's node belongs to the user the VM runs as.
chown nobody "/dev/vfio/$group"
out=$(mktemp)
setpriv --reuid=65534 --regid=65534 --clear-groups "$VMTEST_DIR/vfio-client" --hold "$addr" >"$out" 2>&1 &
holder=$!
wait_until 10 grep -q vendor= "$out" || fail "vfio-client --hold $addr: $(cat "$out")"
note "vfio-client (pid $holder, as nobody): $(cat "$out")"
run ls -l "/proc/$holder/fd"

# Through flavourctl: refused before any write; the request must not block in unbind.
result=$(mktemp)
(rc=0; flavourctl apply "$addr" none >"$result" 2>&1 || rc=$?; echo "exit $rc" >>"$result") &
attempt=$!
if ! wait_until 20 grep -q '^exit ' "$result"; then
    cat "$result"
    note "flavourctl apply $addr none still running after 20 s: $(cat "/proc/$attempt/stack" 2>/dev/null | head -n3 | tr '\n' ' ')"
    note "driver now '$(driver_of "$addr")'; letting the holder go"
    kill "$holder"
    holder=
    wait "$attempt" || true
    note "after the holder went: $(tr '\n' ' ' <"$result") driver '$(driver_of "$addr")'"
    fail "flavourctl apply $addr none did not refuse: it blocked in unbind until the VFIO user let go"
fi
cat "$result"
grep -q '^exit 1$' "$result" || fail "flavourctl apply $addr none did not exit 1"
for text in "in use" "vfio-client" "(pid $holder)"; do
    grep -qF "$text" "$result" || fail "the refusal does not say '$text'"
done
expect_driver "$addr" "$vfio_driver"
kill -0 "$holder" || fail "the holder is gone"
note "ok: refused, $addr still on $vfio_driver, vfio-client alive"

out2=$(flavourctl explain "$addr" 2>&1) || true
printf '%s\n' "$out2"
grep -q "in use by the host: .*vfio-client" <<<"$out2" || fail "explain does not name vfio-client"
flavourctl list | grep "^$addr" | grep -q "vfio-client" || fail "list's IN USE column does not name vfio-client"

# Through flavourd: a revert as a synthetic request is rejected the same way.
expect_daemon_refuses "$addr" "vfio-client" none
kill -0 "$holder" || fail "the holder is gone"

# --force: the revert goes ahead, the kernel waits for the holder; the holder goes (as QEMU
# hot-unplugs the device from its guest), and the device ends on its own driver.
mark=$(journal_mark)
: >"$result"
(rc=0; flavourctl apply --force "$addr" none >"$result" 2>&1 || rc=$?; echo "exit $rc" >>"$result") &
forced=$!
sleep 2
kill "$holder"
holder=
wait_until 60 grep -q '^exit ' "$result" || fail "flavourctl apply --force $addr none did not end after the holder went"
cat "$result"
grep -q '^exit 0$' "$result" || fail "flavourctl apply --force $addr none failed"
forced=
expect_driver "$addr" virtio-pci
journalctl -q -b --no-pager -o cat --since="$mark" SYSLOG_IDENTIFIER=flavourctl | grep -q "In-use guard overridden" ||
    fail "the journal does not record the override"
note "ok: the override is in the journal"
