#!/usr/bin/env bash
# The captioned walk-through scripts/demo shows in the guest. Each scene is a function named
# scene_*; they run in the order of SCENES. Adding a scene is a function and a line in SCENES.
# Runs inside the QEMU guest only.
set -uo pipefail
VMTEST_DIR=${VMTEST_DIR:-/usr/lib/driver-flavour-vmtest}
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

DEMO_PAUSE=${DEMO_PAUSE:-1}
SCENES=(scene_devices scene_request scene_journal scene_list scene_fallback scene_revert)

# fail WHY: in the demo a failed step is shown, not fatal.
fail() {
    printf '   !! %s\n' "$*"
    return 1
}

# caption TEXT: a scene's title.
caption() {
    printf '\n\033[1m### %s\033[0m\n' "$*"
    sleep "$DEMO_PAUSE"
}

# show CMD...: prints a command as typed at a prompt, then runs it.
show() {
    printf '\033[36m# %s\033[0m\n' "$*"
    bash -c "$*"
}

scene_devices() {
    caption "The guest's PCI devices and the VFIO driver each would get (flavourctl list)"
    show flavourctl list
}

# wait_for_vfio ADDR: true when ADDR gets a VFIO driver within 10 s.
wait_for_vfio() {
    wait_until 10 bash -c "[[ \$(basename \"\$(readlink $SYSFS_PCI/$1/driver)\") == *vfio* ]]"
}

scene_request() {
    local addr
    addr=$(find_devs "${VIRTIO_NET_ID[@]}" | head -n1)
    caption "Ask for VFIO on the virtio-net function $addr"
    modprobe driver_flavour 2>/dev/null
    if [[ -e "$SYSFS_PCI/$addr/driver_flavour" ]]; then
        show "echo vfio > $SYSFS_PCI/$addr/driver_flavour"
    else
        note "(the driver_flavour module is not loaded: the same request as a synthetic uevent)"
        show "echo \"change \$(cat /proc/sys/kernel/random/uuid) DRIVERFLAVOUR=vfio\" > $SYSFS_PCI/$addr/uevent"
    fi
    if ! wait_for_vfio "$addr"; then
        note "(no VFIO driver after 10 s: is flavourd running? applying with flavourctl)"
        show flavourctl apply "$addr" vfio
    fi
    show "readlink $SYSFS_PCI/$addr/driver; lsmod | grep -E '^(virtio_vfio_pci|vfio_pci) '"
    show "$VMTEST_DIR/vfio-client $addr"
}

scene_journal() {
    local addr
    addr=$(find_devs "${VIRTIO_NET_ID[@]}" | head -n1)
    caption "What flavourd logged: one structured journal entry per outcome"
    if systemctl -q is-active flavourd.service; then
        show "journalctl -u flavourd -o json --no-pager PCI_SLOT_NAME=$addr MESSAGE_ID=$MSG_BOUND | tail -n 1 | jq '{MESSAGE, MESSAGE_ID, PRIORITY, PCI_SLOT_NAME, PCI_ID, MODALIAS, DRIVER_FLAVOUR, DRIVER, DRIVER_PREVIOUS, MODULE, ATTEMPTS, REQUEST_ORIGIN}'"
        show "flavourctl status"
    else
        note "(flavourd.service is not running in this guest: systemctl status flavourd)"
    fi
}

scene_list() {
    caption "The same devices now"
    show flavourctl list
}

# ask ADDR FLAVOUR: through flavourd (flavourctl set) when it runs, else flavourctl apply.
ask() {
    if systemctl -q is-active flavourd.service; then
        show flavourctl set "$1" "$2"
    else
        show flavourctl apply "$1" "$2"
    fi
}

scene_fallback() {
    local addr param=/sys/module/flavour_test_vfio_pci/parameters/fail_probe
    addr=$(find_devs "${E1000E_ID[@]}" | head -n1)
    caption "A fallback: the e1000e's variant driver (flavour_test_vfio_pci) fails its probe"
    show modprobe flavour_test_vfio_pci
    show "echo 1 > $param"
    ask "$addr" vfio
    show "readlink $SYSFS_PCI/$addr/driver"
    show "$VMTEST_DIR/vfio-client $addr"
    systemctl -q is-active flavourd.service &&
        show "journalctl -u flavourd -o json --no-pager PCI_SLOT_NAME=$addr MESSAGE_ID=$MSG_FELL_BACK | tail -n 1 | jq -c '{MESSAGE, DRIVER, ERRNO, ATTEMPTS}'"
    echo 0 >"$param"
}

scene_revert() {
    local addr
    caption "A revert: both devices go back to their own drivers and interfaces"
    for addr in $(find_devs "${VIRTIO_NET_ID[@]}") $(find_devs "${E1000E_ID[@]}"); do
        ask "$addr" none
    done
    show "ip -br link"
}

main() {
    local scene
    udevadm settle --timeout=60
    printf '\n\033[1m==== driver-flavour demo (kernel %s) ====\033[0m\n' "$(uname -r)"
    for scene in "${SCENES[@]}"; do
        "$scene" || true
    done
    printf '\n==== end of the demo ====\n'
}

main "$@"
