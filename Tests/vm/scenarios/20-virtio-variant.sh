#!/usr/bin/env bash
# virtio-net (1af4:1041) with the vfio flavour ends on the upstream variant virtio_vfio_pci,
# chosen from the real modules.alias and autoloaded, and is usable through VFIO.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

addr=$(find_dev "${VIRTIO_NET_ID[@]}")
note "virtio-net at $addr on '$(driver_of "$addr")'"
if grep -q '^virtio_vfio_pci ' /proc/modules; then
    modprobe -r virtio_vfio_pci || fail "virtio_vfio_pci loaded before the test and cannot be removed"
fi
apply "$addr" vfio
expect_module_driver "$addr" virtio_vfio_pci
expect_vfio_vendor "$addr" 1af4
