#!/usr/bin/env bash
# Nothing is lost when a request fails, on the real kernel:
# (1) every candidate fails (a flavour whose only driver is the test variant, fail_probe=1):
#     flavourctl exits 1 and e1000e is back on e1000e, no override, its interface back; the
#     same through flavourd ends in a "failed, device restored" journal entry with ERRNO=5;
# (2) a revert whose default driver cannot load (a modprobe.d install command that fails):
#     flavourctl exits 1 and the device is back on the VFIO driver it had, override and all;
# (3) asking again for the flavour a device already has is "unchanged" in the journal.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

FAIL_PROBE=/sys/module/flavour_test_vfio_pci/parameters/fail_probe
CONF="$CONF_DIR/60-failing.conf"
MODPROBE_CONF=/etc/modprobe.d/flavour-test-e1000e.conf

addr=$(find_dev "${E1000E_ID[@]}")
cleanup() {
    rm -f "$MODPROBE_CONF"
    [[ -w "$FAIL_PROBE" ]] && echo 0 >"$FAIL_PROBE"
    if [[ -e "$CONF" ]]; then
        rm -f "$CONF"
        systemctl reload "$FLAVOURD" || true
    fi
    flavourctl apply "$addr" none >/dev/null 2>&1 || true
}
trap cleanup EXIT

[[ "$(driver_of "$addr")" == e1000e ]] || apply "$addr" none
expect_driver "$addr" e1000e
grep -q '^flavour_test_vfio_pci ' /proc/modules || run modprobe flavour_test_vfio_pci ||
    fail "cannot load flavour_test_vfio_pci"

# (1) Every candidate fails.
printf 'flavour failing - flavour_test_vfio_pci\n' >"$CONF"
echo 1 >"$FAIL_PROBE"
set +e
out=$(flavourctl apply "$addr" failing 2>&1)
rc=$?
set -e
printf '%s\n' "$out"
((rc == 1)) || fail "flavourctl apply $addr failing exited $rc, expected 1"
[[ "$out" == *"every candidate failed"*"It is back on e1000e"* ]] || fail "flavourctl did not say the device is back on e1000e"
expect_driver "$addr" e1000e
[[ "$(override_of "$addr")" == "(null)" ]] || fail "$addr kept driver_override '$(override_of "$addr")'"
expect_netdev "$addr"

expect_daemon
reload_daemon
mark=$(journal_mark)
uuid=$(new_uuid)
synth_request "$addr" failing "$uuid"
entry=$(wait_entry 30 "$mark" "SYNTH_UUID=$uuid")
show_entry "$entry"
expect_fields "$entry" "MESSAGE_ID=$MSG_FAILED_ROLLED_BACK" "PCI_SLOT_NAME=$addr" DRIVER=e1000e DRIVER_PREVIOUS=e1000e \
    ERRNO=5 DRIVER_FLAVOUR=failing PRIORITY=3 ATTEMPTS=?
expect_driver "$addr" e1000e
echo 0 >"$FAIL_PROBE"

# (2) A revert whose default driver cannot come back.
apply "$addr" vfio
vfio_driver=$(driver_of "$addr")
[[ -n "$vfio_driver" ]] || fail "$addr has no driver after apply vfio"
run rmmod e1000e
printf 'install e1000e /bin/false\n' >"$MODPROBE_CONF"
set +e
out=$(flavourctl apply "$addr" none 2>&1)
rc=$?
set -e
printf '%s\n' "$out"
((rc == 1)) || fail "flavourctl apply $addr none exited $rc, expected 1"
[[ "$out" == *"revert failed: its default driver's module did not load"*"put back on $vfio_driver"* ]] ||
    fail "flavourctl did not say the revert failed and the device went back on $vfio_driver"
expect_driver "$addr" "$vfio_driver"
[[ "$(override_of "$addr")" == "$vfio_driver" ]] || fail "$addr has driver_override '$(override_of "$addr")', expected $vfio_driver"
expect_vfio_vendor "$addr" 8086

# (3) The same flavour again: nothing to do, and the journal says so.
mark=$(journal_mark)
uuid=$(new_uuid)
synth_request "$addr" vfio "$uuid"
entry=$(wait_entry 30 "$mark" "SYNTH_UUID=$uuid")
show_entry "$entry"
expect_fields "$entry" "MESSAGE_ID=$MSG_UNCHANGED" "PCI_SLOT_NAME=$addr" "DRIVER=$vfio_driver" PRIORITY=6

rm -f "$MODPROBE_CONF"
apply "$addr" none
expect_driver "$addr" e1000e
expect_netdev "$addr"
