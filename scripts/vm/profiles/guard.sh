# shellcheck shell=bash
# The in-use guard on a host as it really is (docs/safety.md; Tests/vm/scenarios/8x-guard-*):
# a NIC to move into another network namespace (e1000e), a NIC for an Open vSwitch bridge and
# for a VFIO user that holds it (virtio-net), four small virtio-blk disks told apart by their
# serials (one a process holds open, two for a btrfs raid1, one for an nvmet export), an SR-IOV
# NVMe PF with two VFs, a display controller with a DRM node and no VGA (bochs-display, class
# 0x0380: no boot_vga at all), and a USB controller with a keyboard (an input device).
GUARD_DISKS=(held btrfs1 btrfs2 nvmet)

profile_prepare() {
    local dir=$1 name
    # Sparse; mkfs.btrfs wants more than 109 MiB a device.
    for name in "${GUARD_DISKS[@]}"; do truncate -s 160M "$dir/$name.img"; done
}

profile_devices() {
    local dir=$1 name nvme
    printf '%s\n' \
        -netdev hubport,id=n0,hubid=0 -device virtio-net-pci,netdev=n0,romfile=,disable-legacy=on \
        -netdev hubport,id=n1,hubid=1 -device e1000e,netdev=n1,romfile=
    for name in "${GUARD_DISKS[@]}"; do
        printf '%s\n' -drive "file=$dir/$name.img,if=none,id=$name,format=raw" \
            -device "virtio-blk-pci,drive=$name,serial=guard-$name"
    done
    # sriov_vq_flexible >= 2 * VFs, max_ioqpairs >= sriov_vq_flexible + 2, sriov_vi_flexible >=
    # VFs, msix_qsize >= sriov_vi_flexible + 1 (hw/nvme/ctrl.c).
    nvme="nvme,serial=guardpf,subsys=subsys0,bus=rp1,sriov_max_vfs=2"
    nvme+=",sriov_vq_flexible=4,max_ioqpairs=6,sriov_vi_flexible=2,msix_qsize=3"
    printf '%s\n' \
        -device pcie-root-port,id=rp1,chassis=1,slot=1 -device nvme-subsys,id=subsys0 -device "$nvme" \
        -device bochs-display -device qemu-xhci,id=xhci -device usb-kbd,bus=xhci.0
}

