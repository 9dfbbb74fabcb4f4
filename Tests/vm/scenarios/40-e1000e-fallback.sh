#!/usr/bin/env bash
# When the variant driver's probe fails, the vfio flavour falls back to vfio-pci, and the device
# is usable through VFIO. Starts by reverting e1000e to its own driver.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

FAIL_PROBE=/sys/module/flavour_test_vfio_pci/parameters/fail_probe

addr=$(find_dev "${E1000E_ID[@]}")
note "e1000e at $addr on '$(driver_of "$addr")'"
apply "$addr" none
expect_driver "$addr" e1000e
expect_netdev "$addr"

grep -q '^flavour_test_vfio_pci ' /proc/modules || run modprobe flavour_test_vfio_pci ||
    fail "cannot load flavour_test_vfio_pci"
[[ -w "$FAIL_PROBE" ]] || fail "flavour_test_vfio_pci has no writable fail_probe parameter"
trap 'echo 0 >"$FAIL_PROBE"' EXIT
run sh -c "echo 1 > $FAIL_PROBE"
apply "$addr" vfio
expect_driver "$addr" vfio-pci
expect_vfio_vendor "$addr" 8086
