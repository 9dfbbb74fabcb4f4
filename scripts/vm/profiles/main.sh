# shellcheck shell=bash
# The everyday guest: most scenarios run here (a scenario without a `# vm-profile:` line).
# Test devices (VM-TESTING.md): virtio-net (modern only, 1af4:1041), e1000e (8086:10d3), and an
# SR-IOV NVMe PF (1b36:0010) behind a root port, allowing NUM_VFS VFs.
NUM_VFS=32
# About 13 minutes of scenarios under TCG (the burst alone is one and a half).
PROFILE_TIMEOUT=1200

profile_devices() {
    # QEMU's NVMe: sriov_vq_flexible >= 2 * VFs, max_ioqpairs >= sriov_vq_flexible + 2,
    # sriov_vi_flexible >= VFs, msix_qsize >= sriov_vi_flexible + 1 (hw/nvme/ctrl.c).
    local nvme="nvme,serial=deadbeef,subsys=subsys0,bus=rp1,sriov_max_vfs=$NUM_VFS"
    nvme+=",sriov_vq_flexible=$((2 * NUM_VFS)),max_ioqpairs=$((2 * NUM_VFS + 2))"
    nvme+=",sriov_vi_flexible=$NUM_VFS,msix_qsize=$((NUM_VFS + 1))"
    printf '%s\n' \
        -netdev hubport,id=n0,hubid=0 -device virtio-net-pci,netdev=n0,romfile=,disable-legacy=on \
        -netdev hubport,id=n1,hubid=1 -device e1000e,netdev=n1,romfile= \
        -device pcie-root-port,id=rp1,chassis=1,slot=1 -device nvme-subsys,id=subsys0 \
        -device "$nvme"
}
