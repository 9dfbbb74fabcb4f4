#!/usr/bin/env bash
# vm-timeout: 300
# A paused flavourd (SIGSTOP, as a busy or swapped-out daemon is) and a burst of requests over
# the 32 NVMe VFs, alternating vfio and none, the last one for each VF vfio; then SIGCONT:
#   1. 2,048 synthetic requests: every VF ends on vfio-pci and every request has its outcome
#      (the monitor's receive buffer is the 8 MiB flavourd asks for, so nothing is lost);
#   2. 2,048 driver_flavour writes with flavourd's receive buffer cut to 64 KiB (an option):
#      the buffer overruns, flavourd says events were lost, resyncs from sysfs (the attribute
#      holds each VF's newest request), and every VF ends on vfio-pci.
# BENCH lines: requests without an outcome, VFs not as their newest request says, the resync's time.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

NUM_VFS=32 ROUNDS=64
pf=$(find_dev "${NVME_ID[@]}")
pfdir="$SYSFS_PCI/$pf"
UUIDS=$(mktemp) HEARD=$(mktemp)
loaded=0
cleanup() {
    systemctl kill -s SIGCONT "$FLAVOURD" 2>/dev/null || true
    [[ -e "$DAEMON_DROPIN" ]] && daemon_options
    set_numvfs "$pf" 0
    echo 1 >"$pfdir/sriov_drivers_autoprobe"
    ((loaded)) && rmmod driver_flavour
    rm -f "$UUIDS" "$HEARD"
    return 0
}
trap cleanup EXIT

# fresh_vfs: NUM_VFS new VFs without a driver (the PF's autoprobe off), in `vfs`.
fresh_vfs() {
    set_numvfs "$pf" 0
    echo 0 >"$pfdir/sriov_drivers_autoprobe"
    set_numvfs "$pf" "$NUM_VFS"
    mapfile -t vfs < <(vf_addresses "$pf")
    ((${#vfs[@]} == NUM_VFS)) || fail "$pf has ${#vfs[@]} VFs, expected $NUM_VFS"
}

# flavour_of ROUND: none and vfio alternating, vfio in the last round.
flavour_of() {
    if (((ROUNDS - $1) % 2 == 0)); then printf 'vfio\n'; else printf 'none\n'; fi
}

# settle_on_vfio WHAT: waits (90 s at most) for every VF on vfio-pci; prints how many are not.
settle_on_vfio() {
    local vf wrong deadline=$(($(date +%s) + 90))
    while :; do
        wrong=0
        for vf in "${vfs[@]}"; do on_driver "$vf" vfio-pci || wrong=$((wrong + 1)); done
        ((wrong == 0 || $(date +%s) >= deadline)) && break
        sleep 0.5
    done
    printf '%s\n' "$wrong"
}

# paused_burst WHAT WRITE: stops flavourd, runs `WRITE VF FLAVOUR` for every VF in every round,
# lets udevd deliver (40 s at most: WatchdogSec= is 60 s), and continues flavourd.
paused_burst() {
    local what=$1 write=$2 round flavour vf start
    pid=$(systemctl show -p MainPID --value "$FLAVOURD")
    mark=$(journal_mark)
    run systemctl kill -s SIGSTOP "$FLAVOURD"
    start=$(date +%s%N)
    for ((round = 1; round <= ROUNDS; round++)); do
        flavour=$(flavour_of "$round")
        for vf in "${vfs[@]}"; do "$write" "$vf" "$flavour"; done
    done
    note "$((ROUNDS * NUM_VFS)) $what in $((($(date +%s%N) - start) / 1000000)) ms with flavourd (pid $pid) stopped"
    udevadm settle --timeout=40 || note "udevd still busy after 40 s"
    run systemctl kill -s SIGCONT "$FLAVOURD"
}

# synthetic VF FLAVOUR: a synthetic request, its UUID noted.
synthetic() {
    local uuid
    read -r uuid </proc/sys/kernel/random/uuid
    printf 'change %s DRIVERFLAVOUR=%s\n' "$uuid" "$2" >"$SYSFS_PCI/$1/uevent"
    printf '%s\n' "$uuid" >>"$UUIDS"
}

# attribute VF FLAVOUR: a request through driver_flavour.
attribute() {
    printf '%s\n' "$2" >"$SYSFS_PCI/$1/driver_flavour"
}

expect_daemon
grep -q '^vfio_pci ' /proc/modules || run modprobe vfio-pci || fail "cannot load vfio-pci"

# ---- 1. synthetic requests, the buffer flavourd asks for ----
fresh_vfs
paused_burst "synthetic requests" synthetic
sent=$(wc -l <"$UUIDS")
start=$(date +%s%N)
wrong=$(settle_on_vfio)
note "$((NUM_VFS - wrong)) of $NUM_VFS VFs on vfio-pci $((($(date +%s%N) - start) / 1000000)) ms after SIGCONT"
wait_until 60 bash -c "flavourctl status --json | jq -e '(.in_flight | length) == 0 and .queued_count == 0' >/dev/null" || true
sleep 1
flavourd_entries "$mark" _PID="$pid" | jq -r 'select(.MESSAGE_ID != null) | .SYNTH_UUID // empty' | sort -u >"$HEARD"
lost=$(sort -u "$UUIDS" | comm -23 - "$HEARD" | wc -l)
resyncs=$(flavourd_entries "$mark" _PID="$pid" MESSAGE_ID="$MSG_RESYNCED" | wc -l)
note "BENCH burst synthetic: $sent requests over $NUM_VFS VFs: $lost without an outcome, $wrong VFs not as their newest request says, $resyncs resync(s)"
((wrong == 0)) || fail "$wrong of $NUM_VFS VFs are not on vfio-pci after a burst of $sent requests to a paused flavourd"
((lost == 0)) || fail "$lost of $sent synthetic requests have no outcome"
lost_events=$(flavourd_entries "$mark" _PID="$pid" MESSAGE_ID="$MSG_EVENTS_LOST" | wc -l)
((lost_events == resyncs)) || fail "flavourd logged $lost_events event losses but $resyncs resyncs"
note "ok: no request lost, every VF on vfio-pci"

# ---- 2. driver_flavour writes, the receive buffer cut to 64 KiB: an overrun and a resync ----
if ! grep -q '^driver_flavour ' /proc/modules; then
    run modprobe driver_flavour || fail "modprobe driver_flavour exited $?"
    loaded=1
fi
fresh_vfs
daemon_options --receive-buffer 65536
paused_burst "driver_flavour writes" attribute
wrong=$(settle_on_vfio)
lost_entry=$(wait_entry 30 "$mark" MESSAGE_ID="$MSG_EVENTS_LOST" _PID="$pid")
show_entry "$lost_entry"
jq -r .MESSAGE <<<"$lost_entry"
resync=$(wait_entry 30 "$mark" MESSAGE_ID="$MSG_RESYNCED" _PID="$pid")
jq -c '{MESSAGE, RESYNC_MS, RESYNC_REQUESTS, RESYNC_DEVICES}' <<<"$resync"
note "BENCH burst attribute: $((ROUNDS * NUM_VFS)) writes, 64 KiB buffer: resync took $(jq -r .RESYNC_MS <<<"$resync") ms over $(jq -r .RESYNC_DEVICES <<<"$resync") devices, $wrong VFs not as their newest request says"
((wrong == 0)) || fail "$wrong of $NUM_VFS VFs are not on vfio-pci after the overrun and the resync"
# all_done: every VF's driver_flavour reads vfio, the request finished (flavourd's `done N`).
all_done() {
    local vf value
    for vf in "${vfs[@]}"; do
        read -r value <"$SYSFS_PCI/$vf/driver_flavour" || true
        [[ "$value" == vfio ]] || return 1
    done
}
wait_until 10 all_done || fail "not every VF's driver_flavour reads vfio after the burst (${vfs[0]}: $(head -n1 "$SYSFS_PCI/${vfs[0]}/driver_flavour"))"
note "ok: after the overrun and the resync every VF is on vfio-pci and its driver_flavour reads vfio"
