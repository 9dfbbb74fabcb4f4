#!/usr/bin/env bash
# The driver_flavour module (kernel/driver_flavour/) on the real kernel: the attribute on every
# PCI device and on a VF created after load; `echo vfio >` it on virtio-net ends on
# virtio_vfio_pci through flavourd; a revert empties it; EINVAL for bad values; a clean rmmod;
# no kernel warning; `flavourctl status` says whether it is loaded.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

ATTR=driver_flavour

# attr_value ADDR: the attribute's content (newline stripped).
attr_value() {
    local value
    read -r value <"$SYSFS_PCI/$1/$ATTR" || true
    printf '%s\n' "$value"
}

# expect_einval ADDR VALUE: writing VALUE (as echo does) fails with EINVAL and changes nothing.
expect_einval() {
    local addr=$1 value=$2 before err
    before=$(attr_value "$addr")
    if err=$( (printf '%s\n' "$value" >"$SYSFS_PCI/$addr/$ATTR") 2>&1); then
        fail "writing '$value' (${#value} characters) to $ATTR succeeded"
    fi
    [[ "$err" == *"Invalid argument"* ]] || fail "writing '$value' to $ATTR failed with '$err', not EINVAL"
    [[ "$(attr_value "$addr")" == "$before" ]] || fail "a refused write changed $ATTR to '$(attr_value "$addr")'"
    note "ok: '$value' (${#value} characters) refused with EINVAL"
}

# module_status: flavourctl status's driver_flavour_module.
module_status() {
    flavourctl status --json | jq -r .driver_flavour_module
}

pf=$(find_dev "${NVME_ID[@]}")
cleanup() {
    set_numvfs "$pf" 0
    echo 1 >"$SYSFS_PCI/$pf/sriov_drivers_autoprobe"
    grep -q "^driver_flavour " /proc/modules && rmmod driver_flavour
    return 0
}
trap cleanup EXIT

expect_daemon
addr=$(find_dev "${VIRTIO_NET_ID[@]}")
[[ "$(driver_of "$addr")" == virtio-pci ]] || daemon_set "$addr" none
expect_driver "$addr" virtio-pci
dmesg_lines=$(dmesg | wc -l)

! grep -q "^driver_flavour " /proc/modules || run rmmod driver_flavour
[[ "$(module_status)" == false ]] || fail "flavourctl status says driver_flavour is loaded before modprobe"
run modprobe driver_flavour || fail "modprobe driver_flavour exited $?"
[[ "$(module_status)" == true ]] || fail "flavourctl status does not see the loaded driver_flavour module"
flavourctl status | grep '^driver_flavour:'

count=0
for dev in "$SYSFS_PCI"/*; do
    [[ -e "$dev/$ATTR" ]] || fail "${dev##*/} has no $ATTR attribute"
    count=$((count + 1))
done
mode=$(stat -c %a "$SYSFS_PCI/$addr/$ATTR")
[[ "$mode" == 644 ]] || fail "$ATTR has mode $mode, expected 644"
[[ -z "$(attr_value "$addr")" ]] || fail "$ATTR of $addr reads '$(attr_value "$addr")' before any request"
note "ok: $ATTR (mode $mode, empty) on all $count PCI devices"

cursor=$(journal_mark)
run sh -c "echo vfio > $SYSFS_PCI/$addr/$ATTR"
wait_until 30 on_driver "$addr" virtio_vfio_pci ||
    fail "$addr is on '$(driver_of "$addr")' 30 s after echo vfio > $ATTR"
expect_module_driver "$addr" virtio_vfio_pci
entry=$(wait_entry 10 "$cursor" MESSAGE_ID="$MSG_BOUND" PCI_SLOT_NAME="$addr")
show_entry "$entry"
expect_fields "$entry" REQUEST_ORIGIN=attribute DRIVER_FLAVOUR=vfio DRIVER=virtio_vfio_pci
[[ "$(attr_value "$addr")" == vfio ]] || fail "after the bind $ATTR reads '$(attr_value "$addr")', not vfio"
note "ok: $ATTR reads vfio while bound"

out=$(daemon_set "$addr" none)
printf '%s\n' "$out"
expect_driver "$addr" virtio-pci
expect_netdev "$addr"
wait_until 5 bash -c "[[ -z \"\$(cat $SYSFS_PCI/$addr/$ATTR)\" ]]" ||
    fail "after the revert $ATTR reads '$(attr_value "$addr")', not empty"
note "ok: $ATTR empty after the revert"

expect_einval "$addr" 'vfio;rm'
expect_einval "$addr" "$(printf 'a%.0s' {1..33})"
expect_einval "$addr" ''
expect_einval "$addr" 'VFIO'

echo 0 >"$SYSFS_PCI/$pf/sriov_drivers_autoprobe"
set_numvfs "$pf" 1
vf=$(vf_addresses "$pf")
[[ -e "$SYSFS_PCI/$vf/$ATTR" ]] || fail "VF $vf, created after load, has no $ATTR"
note "ok: VF $vf created after load has $ATTR"
set_numvfs "$pf" 0
echo 1 >"$SYSFS_PCI/$pf/sriov_drivers_autoprobe"

run rmmod driver_flavour || fail "rmmod driver_flavour exited $?"
left=$(compgen -G "$SYSFS_PCI/*/$ATTR" || true)
[[ -z "$left" ]] || fail "after rmmod $ATTR is still on $(wc -l <<<"$left") devices"
[[ "$(module_status)" == false ]] || fail "flavourctl status still says driver_flavour is loaded after rmmod"
note "ok: rmmod removed $ATTR from every device; flavourctl status says not loaded"

warnings=$(dmesg | tail -n +"$((dmesg_lines + 1))" | grep -E 'WARNING|BUG|Call Trace|general protection|refcount_t|use-after-free' || true)
[[ -z "$warnings" ]] || { printf '%s\n' "$warnings"; fail "dmesg has kernel warnings: $(head -n1 <<<"$warnings")"; }
note "ok: no WARN/BUG in dmesg"
