#!/usr/bin/env bash
# SR-IOV at scale: 32 VFs of the QEMU NVMe PF, created with sriov_drivers_autoprobe=0, each
# given the vfio flavour, all end on vfio-pci, and the nvme driver never probed any of them.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

NUM_VFS=32

pf=$(find_dev "${NVME_ID[@]}")
pfdir="$SYSFS_PCI/$pf"
[[ -e "$pfdir/sriov_totalvfs" ]] || fail "$pf has no SR-IOV capability"
total=$(cat "$pfdir/sriov_totalvfs")
((total >= NUM_VFS)) || fail "$pf supports $total VFs, need $NUM_VFS"
note "NVMe PF $pf on '$(driver_of "$pf")', $total VFs possible"

cleanup() {
    [[ -n "${monitor:-}" ]] && kill "$monitor" 2>/dev/null
    echo 0 >"$pfdir/sriov_numvfs"
    echo 1 >"$pfdir/sriov_drivers_autoprobe"
}
trap cleanup EXIT
echo 0 >"$pfdir/sriov_numvfs"

# Every uevent of the run, to prove which drivers bound what.
events=$(mktemp)
udevadm monitor --kernel --property --subsystem-match=pci >"$events" &
monitor=$!
sleep 0.5

run sh -c "echo 0 > $pfdir/sriov_drivers_autoprobe"
run sh -c "echo $NUM_VFS > $pfdir/sriov_numvfs"
mapfile -t vfs < <(for link in "$pfdir"/virtfn*; do basename "$(readlink "$link")"; done | sort)
((${#vfs[@]} == NUM_VFS)) || fail "$pf has ${#vfs[@]} VFs, expected $NUM_VFS"
note "created ${#vfs[@]} VFs: ${vfs[0]} .. ${vfs[-1]}"

start=$(date +%s%N)
for vf in "${vfs[@]}"; do
    flavourctl apply "$vf" vfio >/dev/null || fail "flavourctl apply $vf vfio exited $?"
done
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
note "flavourctl apply x$NUM_VFS: ${elapsed_ms} ms ($((elapsed_ms / NUM_VFS)) ms a VF)"

for vf in "${vfs[@]}"; do
    [[ "$(driver_of "$vf")" == vfio-pci ]] || fail "VF $vf is on '$(driver_of "$vf")', expected vfio-pci"
done
note "ok: all $NUM_VFS VFs on vfio-pci"

sleep 0.5
kill "$monitor"
monitor=
nvme_binds=$(awk -v RS= '/ACTION=bind/ && /(^|\n)DRIVER=nvme(\n|$)/' "$events" | grep -c '^ACTION=bind' || true)
vfio_binds=$(awk -v RS= '/ACTION=bind/ && /(^|\n)DRIVER=vfio-pci(\n|$)/' "$events" | grep -c '^ACTION=bind' || true)
note "uevents: $vfio_binds binds to vfio-pci, $nvme_binds to nvme"
((nvme_binds == 0)) || fail "nvme bound $nvme_binds devices during the run"
((vfio_binds >= NUM_VFS)) || fail "only $vfio_binds vfio-pci bind uevents for $NUM_VFS VFs"
for vf in "${vfs[@]}"; do
    ! dmesg | grep -q "nvme.*pci function $vf" || fail "nvme probed VF $vf (dmesg)"
done
note "ok: nvme never probed a VF"
