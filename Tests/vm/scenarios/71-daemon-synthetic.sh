#!/usr/bin/env bash
# A synthetic request (echo "change UUID DRIVERFLAVOUR=vfio" > uevent) on virtio-net, carried
# out by flavourd: the upstream variant virtio_vfio_pci, autoloaded by the daemon, and one
# journal entry with the structured fields. Then `flavourctl set ADDR none` reverts it.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

expect_daemon
addr=$(find_dev "${VIRTIO_NET_ID[@]}")
note "virtio-net at $addr on '$(driver_of "$addr")'"
# Start from the default driver, without the variant module, so the daemon must load it.
if [[ "$(driver_of "$addr")" != virtio-pci ]]; then
    apply "$addr" none
fi
expect_driver "$addr" virtio-pci
if grep -q '^virtio_vfio_pci ' /proc/modules; then
    run modprobe -r virtio_vfio_pci || fail "cannot unload virtio_vfio_pci before the test"
fi
! grep -q '^virtio_vfio_pci ' /proc/modules || fail "virtio_vfio_pci is still loaded"

cursor=$(journal_mark)
uuid=$(new_uuid)
run synth_request "$addr" vfio "$uuid"
wait_until 30 on_driver "$addr" virtio_vfio_pci ||
    fail "$addr is on '$(driver_of "$addr")' 30 s after the request, not virtio_vfio_pci"
expect_module_driver "$addr" virtio_vfio_pci
entry=$(wait_entry 10 "$cursor" MESSAGE_ID="$MSG_BOUND" SYNTH_UUID="$uuid")
show_entry "$entry"
vendor_device=$(printf '%s:%s' "$(cat "$SYSFS_PCI/$addr/vendor")" "$(cat "$SYSFS_PCI/$addr/device")")
vendor_device=${vendor_device//0x/}
expect_fields "$entry" PCI_SLOT_NAME="$addr" PCI_ID="${vendor_device^^}" MODALIAS="$(cat "$SYSFS_PCI/$addr/modalias")" \
    DRIVER_FLAVOUR=vfio DRIVER=virtio_vfio_pci DRIVER_PREVIOUS=virtio-pci MODULE=virtio_vfio_pci \
    REQUEST_ORIGIN=synthetic PRIORITY=6
expect_vfio_vendor "$addr" 1af4

cursor=$(journal_mark)
out=$(daemon_set "$addr" none)
printf '%s\n' "$out"
[[ "$out" == *": reverted, driver virtio-pci"* ]] || fail "flavourctl set $addr none said: ${out##*$'\n'}"
expect_driver "$addr" virtio-pci
[[ "$(override_of "$addr")" == "(null)" ]] || fail "$addr: driver_override still '$(override_of "$addr")'"
expect_netdev "$addr"
entry=$(wait_entry 10 "$cursor" MESSAGE_ID="$MSG_REVERTED" PCI_SLOT_NAME="$addr")
show_entry "$entry"
expect_fields "$entry" DRIVER_FLAVOUR=none DRIVER=virtio-pci DRIVER_PREVIOUS=virtio_vfio_pci
