#!/usr/bin/env bash
# A driver whose unbind does not return never stalls flavourd. Four VFs sit on the project's
# test variant driver with block_remove=1 (Tests/vm/modules), as many as flavourd binds at once:
# requests that move them wait in the kernel. With flavourd's deadline cut to 3 s (an option),
#   - each of the four is reported stuck: a journal entry with its own MESSAGE_ID, `stuck` in
#     status.json and in `flavourctl status`;
#   - requests for four other VFs are carried out meanwhile (replacement threads);
#   - once the driver lets go, the four requests end as asked and nothing is stuck any more.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

NUM_VFS=8 HELD=4
pf=$(find_dev "${NVME_ID[@]}")
pfdir="$SYSFS_PCI/$pf"
cleanup() {
    test_driver_param block_remove 0
    [[ -e "$DAEMON_DROPIN" ]] && daemon_options
    set_numvfs "$pf" 0
    echo 1 >"$pfdir/sriov_drivers_autoprobe"
}
trap cleanup EXIT

expect_daemon
for module in vfio-pci pci-stub; do
    grep -q "^${module/-/_} " /proc/modules || run modprobe "$module" || fail "cannot load $module"
done
test_driver_param block_remove 0
daemon_options --stuck-after 3
pid=$(systemctl show -p MainPID --value "$FLAVOURD")

set_numvfs "$pf" 0
echo 0 >"$pfdir/sriov_drivers_autoprobe"
set_numvfs "$pf" "$NUM_VFS"
mapfile -t vfs < <(vf_addresses "$pf")
held=("${vfs[@]:0:HELD}") free=("${vfs[@]:HELD}")
for vf in "${held[@]}"; do
    echo flavour-test-vfio-pci >"$SYSFS_PCI/$vf/driver_override"
    echo "$vf" >/sys/bus/pci/drivers/flavour-test-vfio-pci/bind || fail "cannot bind $vf to flavour-test-vfio-pci"
done
for vf in "${free[@]}"; do
    echo pci-stub >"$SYSFS_PCI/$vf/driver_override"
    echo "$vf" >/sys/bus/pci/drivers/pci-stub/bind || fail "cannot bind $vf to pci-stub"
done
test_driver_param block_remove 1

mark=$(journal_mark)
declare -A uuid_of=()
for vf in "${held[@]}"; do
    uuid_of[$vf]=$(new_uuid)
    synth_request "$vf" vfio "${uuid_of[$vf]}"
done
start=$(date +%s%N)
for vf in "${held[@]}"; do
    entry=$(wait_entry 20 "$mark" MESSAGE_ID="$MSG_STUCK" PCI_SLOT_NAME="$vf" _PID="$pid")
done
note "the $HELD held devices reported stuck within $((($(date +%s%N) - start) / 1000000)) ms (deadline 3 s)"
show_entry "$entry"
jq -c '{MESSAGE, PCI_SLOT_NAME, DRIVER_FLAVOUR, STUCK_SECONDS}' <<<"$entry"
stuck=$(flavourctl status --json | jq -r '.stuck[]' | sort | paste -sd' ')
[[ "$stuck" == "$(printf '%s\n' "${held[@]}" | sort | paste -sd' ')" ]] || fail "flavourctl status --json lists '$stuck' as stuck"
flavourctl status | grep -E '^stuck' || fail "flavourctl status does not show the stuck devices"
note "ok: status.json and flavourctl status name the $HELD stuck devices"

for vf in "${free[@]}"; do
    uuid_of[$vf]=$(new_uuid)
    synth_request "$vf" vfio "${uuid_of[$vf]}"
done
for vf in "${free[@]}"; do
    entry=$(wait_entry 30 "$mark" MESSAGE_ID="$MSG_BOUND" SYNTH_UUID="${uuid_of[$vf]}")
    expect_driver "$vf" vfio-pci
done
note "ok: with $HELD binds stuck in the kernel, the requests of $HELD other VFs were carried out"

test_driver_param block_remove 0
for vf in "${held[@]}"; do
    entry=$(wait_entry 30 "$mark" MESSAGE_ID="$MSG_BOUND" SYNTH_UUID="${uuid_of[$vf]}")
    expect_driver "$vf" vfio-pci
done
wait_until 10 bash -c "flavourctl status --json | jq -e '.stuck | length == 0' >/dev/null" ||
    fail "flavourctl status still lists stuck devices after they were released: $(flavourctl status --json | jq -c .stuck)"
note "ok: released, the $HELD requests ended as asked and nothing is stuck"
