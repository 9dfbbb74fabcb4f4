#!/usr/bin/env bash
# The none flavour gives a device back to its own driver: driver_override is cleared and the
# network interface reappears. Checked on virtio-net and e1000e, from a VFIO driver.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

# revert_device ADDR ORIGINAL: puts ADDR on a VFIO driver if needed, then reverts it.
revert_device() {
    local addr=$1 original=$2 override
    [[ "$(driver_of "$addr")" == *vfio* ]] || apply "$addr" vfio
    [[ "$(driver_of "$addr")" == *vfio* ]] ||
        fail "$addr is on '$(driver_of "$addr")', not on a VFIO driver: nothing to revert"
    note "$addr on '$(driver_of "$addr")'"
    apply "$addr" none
    expect_driver "$addr" "$original"
    override=$(cat "$SYSFS_PCI/$addr/driver_override")
    [[ "$override" == "(null)" ]] || fail "$addr: driver_override still '$override'"
    expect_netdev "$addr"
}

revert_device "$(find_dev "${VIRTIO_NET_ID[@]}")" virtio-pci
revert_device "$(find_dev "${E1000E_ID[@]}")" e1000e
