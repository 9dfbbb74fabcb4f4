#!/usr/bin/env bash
# vm-profile: guard
# btrfs raid1 across two disks, mounted through the first: mountinfo names an anonymous
# device and the first disk only, and the second disk has no holders/. The kernel holds it
# exclusively all the same (an O_EXCL open is EBUSY), and btrfs's sysfs lists it: the second
# disk's controller is refused, naming the filesystem; --force takes it.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

first=$(disk_by_serial guard-btrfs1)
second=$(disk_by_serial guard-btrfs2)
addr=$(pci_above "$(readlink -f "/sys/class/block/$second")")
driver=$(driver_of "$addr")
mnt=/run/guard-btrfs

cleanup() {
    umount "$mnt" 2>/dev/null || true
    [[ "$(driver_of "$addr")" == "$driver" ]] || flavourctl apply "$addr" none >/dev/null 2>&1 || true
}
trap cleanup EXIT
run mkfs.btrfs -q -f -L guard -d raid1 -m raid1 "/dev/$first" "/dev/$second"
mkdir -p "$mnt"
run mount "/dev/$first" "$mnt"
run grep " $mnt " /proc/self/mountinfo
note "/dev/$second is below $addr on '$driver'; holders: '$(ls "/sys/class/block/$second/holders")'"

expect_apply_refused "$addr" vfio "in use" "$second" "btrfs"
expect_daemon_refuses "$addr" "btrfs"

run flavourctl apply --force "$addr" vfio || fail "flavourctl apply --force exited $?"
[[ "$(driver_of "$addr")" == *vfio* ]] || fail "$addr is on '$(driver_of "$addr")' after --force"
run umount "$mnt"
apply "$addr" none
expect_driver "$addr" "$driver"
