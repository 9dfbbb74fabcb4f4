#!/usr/bin/env bash
# The in-use guard on the real kernel: the guest's "/" is an ext4 filesystem on a virtio-blk
# disk (scripts/vm/build-guest: systemd in the initramfs switched root to it). flavourctl apply
# and explain name the disk and its mount point, flavourd rejects a synthetic request for it, and
# the device keeps its driver with nothing written. (No --force here: it would take the guest's
# root away mid-run.)
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

source_dev=$(findmnt -n -o SOURCE /)
[[ "$source_dev" == /dev/* ]] || fail "/ is mounted from '$source_dev', not a block device (did the guest boot from its disk?)"
block=${source_dev#/dev/}
note "/ is $source_dev ($(findmnt -n -o FSTYPE /))"

# The PCI device the disk hangs below: the nearest PCI address on its sysfs path.
path=$(readlink -f "/sys/class/block/$block")
addr=""
while [[ "$path" == /sys/devices/* ]]; do
    name=${path##*/}
    if [[ "$name" =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ ]]; then
        addr=$name
        break
    fi
    path=${path%/*}
done
[[ -n "$addr" ]] || fail "no PCI device above /sys/class/block/$block"
driver=$(driver_of "$addr")
note "$block is below PCI device $addr ($(cat "$SYSFS_PCI/$addr/vendor"):$(cat "$SYSFS_PCI/$addr/device")) on '$driver'"
[[ -n "$driver" ]] || fail "$addr, the root disk's device, has no driver"

# flavourctl apply: refused, naming the disk and "/", nothing written.
if out=$(flavourctl apply "$addr" vfio 2>&1); then
    printf '%s\n' "$out"
    fail "flavourctl apply took $addr although / is on it"
fi
printf '%s\n' "$out"
[[ "$out" == *"in use by the host"* && "$out" == *"$block"* && "$out" == *"mounted at /"* ]] ||
    fail "the refusal does not name $block mounted at /"
expect_driver "$addr" "$driver"
[[ "$(cat "$SYSFS_PCI/$addr/driver_override")" == "(null)" ]] || fail "driver_override was written"
note "ok: flavourctl refused and wrote nothing"

# flavourctl explain says the same before anything is tried.
out=$(flavourctl explain "$addr" --flavour vfio 2>&1) || true
printf '%s\n' "$out"
grep -q "in use by the host: .*$block.* mounted at /" <<<"$out" || fail "explain does not report $block mounted at /"

# flavourctl list shows it in use, in its column and in JSON.
run flavourctl list
in_use=$(flavourctl list --json | jq -c --arg a "$addr" '.[] | select(.address == $a) | .in_use')
note "list --json in_use for $addr: $in_use"
[[ "$in_use" == *"block device $block (below it) is mounted at /"* ]] || fail "list --json does not show $addr in use"
flavourctl list | grep -q "^$addr .* $block on /" || fail "list does not show $block on / for $addr"

# flavourd: a rejected outcome naming the mount, the device untouched.
expect_daemon_refuses "$addr" "mounted at /"

# The root filesystem still answers.
run touch /var/tmp/guard-root-disk || fail "/ is no longer writable"
rm -f /var/tmp/guard-root-disk
