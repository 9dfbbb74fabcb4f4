#!/usr/bin/env bash
# The fallback through the daemon: e1000e's variant (flavour_test_vfio_pci, fail_probe=1)
# refuses the device with EIO, flavourd falls back to vfio-pci, logs "fell back" with ERRNO=5,
# and the device is usable through VFIO. Then reverted to e1000e.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

FAIL_PROBE=/sys/module/flavour_test_vfio_pci/parameters/fail_probe

expect_daemon
addr=$(find_dev "${E1000E_ID[@]}")
note "e1000e at $addr on '$(driver_of "$addr")'"
[[ "$(driver_of "$addr")" == e1000e ]] || apply "$addr" none
expect_driver "$addr" e1000e

grep -q '^flavour_test_vfio_pci ' /proc/modules || run modprobe flavour_test_vfio_pci ||
    fail "cannot load flavour_test_vfio_pci"
trap 'echo 0 >"$FAIL_PROBE"' EXIT
run sh -c "echo 1 > $FAIL_PROBE"

cursor=$(journal_mark)
out=$(daemon_set "$addr" vfio)
printf '%s\n' "$out"
[[ "$out" == *": fell-back, driver vfio-pci"* ]] || fail "flavourctl set $addr vfio said: ${out##*$'\n'}"
expect_driver "$addr" vfio-pci
entry=$(wait_entry 10 "$cursor" MESSAGE_ID="$MSG_FELL_BACK" PCI_SLOT_NAME="$addr")
show_entry "$entry"
expect_fields "$entry" ERRNO=5 DRIVER=vfio-pci DRIVER_PREVIOUS=e1000e MODULE=vfio_pci DRIVER_FLAVOUR=vfio \
    ATTEMPTS=? PRIORITY=4
jq -r .ATTEMPTS <<<"$entry" | grep -q flavour_test_vfio_pci ||
    fail "the fallback entry's ATTEMPTS do not name the failed variant"
expect_vfio_vendor "$addr" 8086

echo 0 >"$FAIL_PROBE"
out=$(daemon_set "$addr" none)
printf '%s\n' "$out"
expect_driver "$addr" e1000e
expect_netdev "$addr"
