#!/usr/bin/env bash
# e1000e (8086:10d3) with the vfio flavour ends on the project's test variant driver
# flavour-test-vfio-pci (an override_only vfio_pci: alias), autoloaded, usable through VFIO.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

addr=$(find_dev "${E1000E_ID[@]}")
note "e1000e at $addr on '$(driver_of "$addr")'"
apply "$addr" vfio
expect_module_driver "$addr" flavour_test_vfio_pci
expect_vfio_vendor "$addr" 8086
