#!/usr/bin/env bash
# flavourd killed with SIGKILL in the middle of a batch of 32 VF requests, restarted by systemd
# (Restart=on-failure): afterwards every VF is on its old driver or on the requested one, none
# is driverless and none keeps a driver_override naming a driver it is not on. The restarted
# daemon rolls back what its predecessor left half done (/run/driver-flavour/inflight).
#
# The VFs start on pci-stub, given to it through driver_override as driverctl would, so a VF
# left without a driver would be a loss. (nvme cannot serve: QEMU's VFs stay offline, and
# nvme's probe waits CAP.TO for a controller that never becomes ready, then fails.)
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

NUM_VFS=32
OLD=pci-stub NEW=vfio-pci
INFLIGHT=/run/driver-flavour/inflight

pf=$(find_dev "${NVME_ID[@]}")
pfdir="$SYSFS_PCI/$pf"
cleanup() {
    set_numvfs "$pf" 0
    echo 1 >"$pfdir/sriov_drivers_autoprobe"
}
trap cleanup EXIT

grep -q '^pci_stub ' /proc/modules || run modprobe pci-stub || fail "cannot load pci-stub"
grep -q '^vfio_pci ' /proc/modules || run modprobe vfio-pci || fail "cannot load vfio-pci"
# start_batch: 32 fresh VFs on pci-stub, then a request for each.
start_batch() {
    local vf
    vfs_on_driver "$pf" "$NUM_VFS" "$OLD"
    note "$NUM_VFS VFs ${vfs[0]} .. ${vfs[-1]} on $OLD (driver_override $OLD); flavourd pid $(systemctl show -p MainPID --value "$FLAVOURD")"
    for vf in "${vfs[@]}"; do synth_request "$vf" vfio; done
}

# The kill must land mid-batch, or nothing is tested: up to three batches.
for attempt in 1 2 3; do
    expect_daemon
    restarts_before=$(systemctl show -p NRestarts --value "$FLAVOURD")
    pid_before=$(systemctl show -p MainPID --value "$FLAVOURD")
    start_batch
    wait_until 10 moved_off "$OLD" || fail "flavourd moved no VF within 10 s of $NUM_VFS requests"
    run systemctl kill -s SIGKILL "$FLAVOURD"
    # The snapshot comes first: systemd restarts flavourd after RestartSec=1s and it rolls back.
    records=$(inflight_addresses | paste -sd' ')
    new=0 old=0 none=0
    for vf in "${vfs[@]}"; do
        if on_driver "$vf" "$NEW"; then new=$((new + 1)); elif on_driver "$vf" "$OLD"; then old=$((old + 1)); else none=$((none + 1)); fi
    done
    note "at the kill (batch $attempt): $new on $NEW, $old on $OLD, $none without a driver; in-flight records: ${records:-none}"
    ((old > 0 || none > 0)) || [[ -n "$records" ]] && break
    note "the batch had ended before the kill landed; another batch"
    wait_until 30 daemon_running || fail "flavourd did not come back after the kill"
done
((old > 0 || none > 0)) || [[ -n "$records" ]] || fail "three batches ended before the kill landed"

wait_until 30 bash -c "(( \$(systemctl show -p NRestarts --value $FLAVOURD) > $restarts_before ))" ||
    fail "systemd did not restart flavourd (NRestarts still $restarts_before)"
expect_daemon
pid_after=$(systemctl show -p MainPID --value "$FLAVOURD")
[[ "$pid_after" != "$pid_before" ]] || fail "flavourd's pid is still $pid_before"
wait_until 10 bash -c "flavourctl status --json | jq -e '.running and .state == \"ready\" and .pid == $pid_after' >/dev/null" ||
    fail "the restarted flavourd (pid $pid_after) is not ready in status.json"
note "ok: systemd restarted flavourd: pid $pid_before -> $pid_after, $(daemon_state)"
settled=$(flavourd_entries "" _PID="$pid_after" MESSAGE="Interrupted change rolled back" MESSAGE="Interrupted change found complete" |
    jq -c '{MESSAGE, PCI_SLOT_NAME, DRIVER, DRIVER_PREVIOUS}')
sed 's/^/restarted flavourd: /' <<<"$settled"
for record in $records; do
    grep -q "\"PCI_SLOT_NAME\":\"$record\"" <<<"$settled" ||
        fail "the restarted flavourd did not settle $record, which its predecessor left in $INFLIGHT"
done

bad=0 new=0 old=0
for vf in "${vfs[@]}"; do
    driver=$(driver_of "$vf")
    override=$(override_of "$vf")
    case "$driver" in
        "$NEW") new=$((new + 1)) ;;
        "$OLD") old=$((old + 1)) ;;
        *) note "BAD: $vf is on '${driver:-no driver}'"; bad=1; continue ;;
    esac
    [[ "$override" == "$driver" || "$override" == "(null)" ]] ||
        { note "BAD: $vf on $driver with driver_override $override"; bad=1; }
done
((bad == 0)) || fail "after the restart some VFs are neither on $OLD nor on $NEW with a matching override"
left=$(inflight_addresses | paste -sd' ')
[[ -z "$left" ]] || fail "in-flight records left after the restart: $left"
note "ok: after the restart $new VFs on $NEW, $old on $OLD, none driverless, no stale driver_override"
