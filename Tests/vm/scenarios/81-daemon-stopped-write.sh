#!/usr/bin/env bash
# A request written to driver_flavour while flavourd is stopped is carried out when it starts,
# and the attribute tells the truth afterwards: the request done reads back as the flavour, a
# value flavourd rejected (an unknown flavour) is cleared, whether it was written while flavourd
# was stopped or while it ran.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

ATTR=driver_flavour
vnet=$(find_dev "${VIRTIO_NET_ID[@]}")
e1000e=$(find_dev "${E1000E_ID[@]}")
loaded=0
cleanup() {
    systemctl start "$FLAVOURD" || true
    [[ "$(driver_of "$vnet")" == virtio-pci ]] || flavourctl set "$vnet" none || true
    ((loaded)) && rmmod driver_flavour
    return 0
}
trap cleanup EXIT

# attr_value ADDR: the attribute's first line.
attr_value() {
    local value
    read -r value <"$SYSFS_PCI/$1/$ATTR" || true
    printf '%s\n' "$value"
}

expect_daemon
[[ "$(driver_of "$vnet")" == virtio-pci ]] || daemon_set "$vnet" none
expect_driver "$vnet" virtio-pci
e1000e_driver=$(driver_of "$e1000e")
if ! grep -q '^driver_flavour ' /proc/modules; then
    run modprobe driver_flavour || fail "modprobe driver_flavour exited $?"
    loaded=1
fi

run systemctl stop "$FLAVOURD"
run sh -c "echo vfio > $SYSFS_PCI/$vnet/$ATTR"
run sh -c "echo nosuch > $SYSFS_PCI/$e1000e/$ATTR"
note "with flavourd stopped: $vnet's $ATTR reads '$(attr_value "$vnet")', $e1000e's '$(attr_value "$e1000e")'"
mark=$(journal_mark)
run systemctl start "$FLAVOURD"
expect_daemon
pid=$(systemctl show -p MainPID --value "$FLAVOURD")
wait_until 30 on_driver "$vnet" virtio_vfio_pci ||
    fail "$vnet is on '$(driver_of "$vnet")' 30 s after flavourd started: the vfio written to $ATTR while it was stopped was not carried out"
entry=$(wait_entry 10 "$mark" MESSAGE_ID="$MSG_BOUND" PCI_SLOT_NAME="$vnet" _PID="$pid")
show_entry "$entry"
expect_fields "$entry" REQUEST_ORIGIN=attribute DRIVER_FLAVOUR=vfio DRIVER=virtio_vfio_pci
wait_until 10 bash -c "[[ \$(head -n1 $SYSFS_PCI/$vnet/$ATTR) == vfio ]]" ||
    fail "$vnet's $ATTR reads '$(attr_value "$vnet")' after its request was carried out, not vfio"
note "ok: the request written while flavourd was stopped was carried out; $ATTR reads vfio"

entry=$(wait_entry 10 "$mark" MESSAGE_ID="$MSG_REJECTED" PCI_SLOT_NAME="$e1000e" _PID="$pid")
show_entry "$entry"
expect_fields "$entry" DRIVER_FLAVOUR=nosuch
wait_until 10 bash -c "[[ -z \$(head -n1 $SYSFS_PCI/$e1000e/$ATTR) ]]" ||
    fail "$e1000e's $ATTR still reads '$(attr_value "$e1000e")' after flavourd rejected it"
expect_driver "$e1000e" "$e1000e_driver"
note "ok: the rejected value written while flavourd was stopped is cleared"

mark=$(journal_mark)
run sh -c "echo nosuch > $SYSFS_PCI/$e1000e/$ATTR"
wait_entry 10 "$mark" MESSAGE_ID="$MSG_REJECTED" PCI_SLOT_NAME="$e1000e" >/dev/null
wait_until 10 bash -c "[[ -z \$(head -n1 $SYSFS_PCI/$e1000e/$ATTR) ]]" ||
    fail "$e1000e's $ATTR still reads '$(attr_value "$e1000e")' after the running flavourd rejected it"
note "ok: a value the running flavourd rejects is cleared too"

daemon_set "$vnet" none
expect_driver "$vnet" virtio-pci
[[ -z "$(attr_value "$vnet")" ]] || fail "$vnet's $ATTR reads '$(attr_value "$vnet")' after the revert"
