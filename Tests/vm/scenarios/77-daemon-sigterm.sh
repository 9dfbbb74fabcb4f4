#!/usr/bin/env bash
# flavourd stopped (SIGTERM, `systemctl stop`) in the middle of a batch of 32 VF requests: the
# binds in flight finish, waiting requests end as "dropped" (REASON=the daemon is stopping),
# no request has two outcomes, and every VF is on its old driver or on vfio-pci with an
# override that names it; the stop is clean (inactive/success) and leaves no in-flight record.
# Requests udevd had not delivered yet are never heard (no outcome). Then flavourd starts again.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

NUM_VFS=32
OLD=pci-stub NEW=vfio-pci
INFLIGHT=/run/driver-flavour/inflight

pf=$(find_dev "${NVME_ID[@]}")
pfdir="$SYSFS_PCI/$pf"
cleanup() {
    systemctl start "$FLAVOURD" || true
    set_numvfs "$pf" 0
    echo 1 >"$pfdir/sriov_drivers_autoprobe"
}
trap cleanup EXIT

expect_daemon
grep -q '^pci_stub ' /proc/modules || run modprobe pci-stub || fail "cannot load pci-stub"
grep -q '^vfio_pci ' /proc/modules || run modprobe vfio-pci || fail "cannot load vfio-pci"
vfs_on_driver "$pf" "$NUM_VFS" "$OLD"
pid=$(systemctl show -p MainPID --value "$FLAVOURD")
mark=$(journal_mark)
declare -A uuid_of=()
for vf in "${vfs[@]}"; do
    uuid_of[$vf]=$(new_uuid)
    synth_request "$vf" vfio "${uuid_of[$vf]}"
done
wait_until 10 moved_off "$OLD" || fail "flavourd moved no VF within 10 s of $NUM_VFS requests"
run systemctl stop "$FLAVOURD"
state=$(systemctl show -p ActiveState --value "$FLAVOURD")/$(systemctl show -p Result --value "$FLAVOURD")
[[ "$state" == inactive/success ]] || fail "flavourd stopped as $state, not inactive/success"
note "ok: flavourd (pid $pid) stopped cleanly mid-batch"

outcomes=$(flavourd_entries "$mark" _PID="$pid" | jq -c 'select(.MESSAGE_ID != null) | {MESSAGE_ID, PCI_SLOT_NAME, SYNTH_UUID, REASON}')
bound=$(grep -c "\"$MSG_BOUND\"" <<<"$outcomes" || true)
dropped=$(grep -c "\"$MSG_DROPPED\"" <<<"$outcomes" || true)
unheard=$((NUM_VFS - bound - dropped))
note "outcomes: $bound bound, $dropped dropped (queued when the stop came), $unheard never heard (still in udevd's queue)"
((bound < NUM_VFS)) || fail "all $NUM_VFS requests were carried out before the stop: it did not land mid-batch"
if ((dropped > 0)); then
    grep "\"$MSG_DROPPED\"" <<<"$outcomes" | jq -e -s 'all(.REASON == "the daemon is stopping")' >/dev/null ||
        fail "a dropped outcome gives another reason: $(grep "\"$MSG_DROPPED\"" <<<"$outcomes" | head -n1)"
fi
dupes=$(jq -r .SYNTH_UUID <<<"$outcomes" | sort | uniq -d)
[[ -z "$dupes" ]] || fail "requests with more than one outcome: $dupes"
flavourd_entries "$mark" _PID="$pid" MESSAGE=Stopping | grep -q . || fail "flavourd did not log Stopping"

bad=0 new=0 old=0
for vf in "${vfs[@]}"; do
    driver=$(driver_of "$vf")
    override=$(override_of "$vf")
    case "$driver" in
        "$NEW") new=$((new + 1)) ;;
        "$OLD") old=$((old + 1)) ;;
        *) note "BAD: $vf is on '${driver:-no driver}'"; bad=1; continue ;;
    esac
    [[ "$override" == "$driver" ]] || { note "BAD: $vf on $driver with driver_override $override"; bad=1; }
    if [[ "$driver" == "$NEW" ]]; then
        grep -q "\"SYNTH_UUID\":\"${uuid_of[$vf]}\"" <<<"$(grep "\"$MSG_BOUND\"" <<<"$outcomes")" ||
            { note "BAD: $vf is on $NEW without a 'bound' outcome"; bad=1; }
    fi
done
((bad == 0)) || fail "after the stop some VFs are neither on $OLD nor on $NEW with a matching override"
left=$(find "$INFLIGHT" -mindepth 1 -name '[0-9]*' -printf '%f ' 2>/dev/null || true)
[[ -z "$left" ]] || fail "a clean stop left record files: $left ($(inflight_addresses | paste -sd' '))"
note "ok: $new VFs on $NEW, $old on $OLD, none driverless, each with one outcome at most"

run systemctl start "$FLAVOURD"
expect_daemon
