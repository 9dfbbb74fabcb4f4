#!/usr/bin/env bash
# vm-profile: guard
# A display controller that is not the boot VGA device (QEMU's bochs-display, class 0x0380:
# no boot_vga at all) whose DRM card node a process holds, as a compositor does; and a USB
# controller whose keyboard's input node is open. Each is refused naming the node and the
# holder; --force takes the GPU.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

gpu=$(find_devs 1234 1111 | while read -r dev; do [[ "$(cat "$SYSFS_PCI/$dev/class")" == 0x038000 ]] && echo "$dev"; done | head -n1)
[[ -n "$gpu" ]] || fail "no bochs-display (1234:1111, class 0x038000)"
[[ ! -e "$SYSFS_PCI/$gpu/boot_vga" ]] || fail "$gpu has a boot_vga attribute"
card=$(basename "$(compgen -G "$SYSFS_PCI/$gpu/drm/card*" | head -n1)")
[[ -n "$card" ]] || fail "$gpu has no DRM card"
gpu_driver=$(driver_of "$gpu")
xhci=$(find_dev 1b36 000d)
event=$(basename "$(compgen -G "$SYSFS_PCI/$xhci/usb*/*/*/*/input/input*/event*" | head -n1)")
[[ -n "$event" ]] || fail "no input event node below $xhci"

holders=()
cleanup() {
    local pid
    for pid in "${holders[@]}"; do kill "$pid" 2>/dev/null || true; done
    [[ "$(driver_of "$gpu")" == "$gpu_driver" ]] || flavourctl apply "$gpu" none >/dev/null 2>&1 || true
}
trap cleanup EXIT
sleep 600 <"/dev/dri/$card" &
holders+=($!)
card_holder=$!
sleep 600 <"/dev/input/$event" &
holders+=($!)
event_holder=$!
note "$gpu ($gpu_driver): /dev/dri/$card held by sleep (pid $card_holder); $xhci: /dev/input/$event held by sleep (pid $event_holder)"

expect_apply_refused "$gpu" vfio "in use" "/dev/dri/$card" "(pid $card_holder)"
expect_daemon_refuses "$gpu" "/dev/dri/$card"
expect_apply_refused "$xhci" vfio "in use" "/dev/input/$event" "(pid $event_holder)"
run flavourctl list
flavourctl list | grep "^$gpu " | grep -q "dri/$card open by sleep" || fail "list's IN USE column does not name dri/$card"

run flavourctl apply --force "$gpu" vfio || fail "flavourctl apply --force exited $?"
[[ "$(driver_of "$gpu")" == *vfio* ]] || fail "$gpu is on '$(driver_of "$gpu")' after --force"
apply "$gpu" none
expect_driver "$gpu" "$gpu_driver"
