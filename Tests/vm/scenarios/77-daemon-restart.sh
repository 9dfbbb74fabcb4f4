#!/usr/bin/env bash
# `systemctl restart flavourd` in the middle of a batch of 32 VF requests: every request ends
# with exactly one outcome (none "dropped"), every VF ends on vfio-pci as asked, the old daemon
# stops cleanly and leaves no record of a change or a request behind.
#
# The batch is held in the kernel, so the restart lands mid-batch whatever the timing: the VFs
# start on the project's test variant driver with block_remove=1 (Tests/vm/modules), so the
# daemon's first binds wait in their unbind while the other requests queue. The restart is
# asked for, then the driver let go: the binds in flight finish, the old daemon stops, and the
# queued requests must survive it (they are recorded under /run/driver-flavour) and be carried
# out by the new one.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

NUM_VFS=32
OLD=flavour-test-vfio-pci NEW=vfio-pci

pf=$(find_dev "${NVME_ID[@]}")
pfdir="$SYSFS_PCI/$pf"
cleanup() {
    test_driver_param block_remove 0
    systemctl start "$FLAVOURD" || true
    set_numvfs "$pf" 0
    echo 1 >"$pfdir/sriov_drivers_autoprobe"
}
trap cleanup EXIT

expect_daemon
grep -q '^vfio_pci ' /proc/modules || run modprobe vfio-pci || fail "cannot load vfio-pci"
test_driver_param block_remove 0
start=$(date +%s%N)
vfs_on_driver "$pf" "$NUM_VFS" "$OLD"
note "$NUM_VFS VFs on $OLD in $((($(date +%s%N) - start) / 1000000)) ms"
test_driver_param block_remove 1
pid=$(systemctl show -p MainPID --value "$FLAVOURD")
mark=$(journal_mark)
declare -A uuid_of=()
for vf in "${vfs[@]}"; do
    uuid_of[$vf]=$(new_uuid)
    synth_request "$vf" vfio "${uuid_of[$vf]}"
done
# All 32 heard: the first binds wait in the kernel, the others are queued.
held() {
    flavourctl status --json | jq -e --argjson n "$NUM_VFS" '(.in_flight | length) > 0 and (.in_flight | length) + .queued_count == $n' >/dev/null
}
start=$(date +%s%N)
wait_until 30 held || fail "flavourd did not take all $NUM_VFS requests within 30 s: $(flavourctl status --json | jq -c '{in_flight, queued_count}')"
note "flavourd (pid $pid) holds the batch after $((($(date +%s%N) - start) / 1000000)) ms: $(flavourctl status --json | jq -c '{in_flight: (.in_flight | length), queued_count}')"

run systemctl restart --no-block "$FLAVOURD"
stopping() { [[ "$(systemctl show -p ActiveState --value "$FLAVOURD")" == deactivating ]]; }
wait_until 10 stopping || fail "flavourd is $(daemon_state) after systemctl restart, not stopping"
test_driver_param block_remove 0
note "restart asked for with binds held in the kernel; driver let go"
wait_until 60 bash -c "[[ \$(systemctl show -p MainPID --value $FLAVOURD) != $pid ]] && [[ \$(systemctl show -p ActiveState --value $FLAVOURD) == active ]]" ||
    fail "flavourd did not come back after the restart ($(daemon_state))"
new_pid=$(systemctl show -p MainPID --value "$FLAVOURD")
result=$(journalctl -q -b --no-pager -u "$FLAVOURD" _PID="$pid" -o cat | grep -c '^Stopping$' || true)
((result == 1)) || fail "the old flavourd (pid $pid) did not log Stopping"
note "ok: flavourd restarted: pid $pid -> $new_pid"

all_new() {
    local vf
    for vf in "${vfs[@]}"; do on_driver "$vf" "$NEW" || return 1; done
}
start=$(date +%s%N)
wait_until 60 all_new || true
note "all on $NEW (or 60 s passed) $((($(date +%s%N) - start) / 1000000)) ms after the new flavourd started"

# The outcomes of both daemons: one per request, whichever daemon gave it.
outcomes=$(flavourd_entries "$mark" | jq -c 'select(.MESSAGE_ID != null and .SYNTH_UUID != null) | {MESSAGE_ID, PCI_SLOT_NAME, SYNTH_UUID, REASON, _PID}')
bad=0
for vf in "${vfs[@]}"; do
    mine=$(grep -F "\"SYNTH_UUID\":\"${uuid_of[$vf]}\"" <<<"$outcomes" || true)
    count=$(grep -c . <<<"$mine" || true)
    if ((count != 1)); then
        note "BAD: the request for $vf has $count outcomes: ${mine//$'\n'/ }"
        bad=1
    elif grep -q "\"$MSG_DROPPED\"" <<<"$mine"; then
        note "BAD: the request for $vf was dropped: $mine"
        bad=1
    fi
    on_driver "$vf" "$NEW" || { note "BAD: $vf is on '$(driver_of "$vf")', not $NEW"; bad=1; }
done
by_old=$(jq -r --arg p "$pid" 'select(._PID == $p) | .SYNTH_UUID' <<<"$outcomes" | grep -c . || true)
by_new=$(jq -r --arg p "$new_pid" 'select(._PID == $p) | .SYNTH_UUID' <<<"$outcomes" | grep -c . || true)
note "outcomes: $by_old from the old flavourd, $by_new from the new one"
((bad == 0)) || fail "after the restart not every request ended with exactly one outcome and its VF on $NEW"
((by_new > 0)) || fail "the new flavourd carried out none of the batch: the restart did not land mid-batch"
left=$(find /run/driver-flavour/inflight -mindepth 1 -name "$pid-*" -printf '%f ' 2>/dev/null || true)
[[ -z "$left" ]] || fail "the old flavourd left in-flight record files: $left"
left=$(find /run/driver-flavour/requests -mindepth 1 -name "$pid-*" -printf '%f ' 2>/dev/null || true)
[[ -z "$left" ]] || fail "the old flavourd's request records are still there: $left"
note "ok: every request of the batch ended once, $NUM_VFS VFs on $NEW, nothing left behind"
