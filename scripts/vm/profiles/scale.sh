# shellcheck shell=bash
# The seeds' case at size: SCALE_PFS of QEMU's SR-IOV NVMe controllers, each allowing SCALE_VFS
# VFs (QEMU allows at most 127 a controller), each PF behind a root port of its own. QEMU 7.2's
# emulated VT-d runs out of host memory at about 190 VFs; virtio-iommu carries 1,000 VFs in
# about 3.5 GiB of host memory. CI runs a small size; the full size is
#   SCALE_PFS=8 SCALE_VFS=125 scripts/vm/run --profile scale
SCALE_PFS=${SCALE_PFS:-2}
SCALE_VFS=${SCALE_VFS:-32}
PROFILE_IOMMU=virtio
PROFILE_MEMORY=$((SCALE_PFS * SCALE_VFS >= 400 ? 6 : 2))G
PROFILE_TIMEOUT=$((600 + SCALE_PFS * SCALE_VFS * 3))
PROFILE_APPEND="flavour.scale_vfs=$SCALE_VFS"

profile_devices() {
    local i nvme n=$SCALE_VFS
    for ((i = 1; i <= SCALE_PFS; i++)); do
        # sriov_vq_flexible >= 2 * VFs, max_ioqpairs >= sriov_vq_flexible + 2,
        # sriov_vi_flexible >= VFs, msix_qsize >= sriov_vi_flexible + 1 (hw/nvme/ctrl.c).
        nvme="nvme,serial=scale$i,subsys=subsys$i,bus=rp$i,sriov_max_vfs=$n"
        nvme+=",sriov_vq_flexible=$((2 * n)),max_ioqpairs=$((2 * n + 2)),sriov_vi_flexible=$n,msix_qsize=$((n + 1))"
        printf '%s\n' -device "pcie-root-port,id=rp$i,chassis=$i,slot=$i" -device "nvme-subsys,id=subsys$i" -device "$nvme"
    done
}
