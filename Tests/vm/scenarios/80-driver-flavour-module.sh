#!/usr/bin/env bash
# The driver_flavour module (kernel/driver_flavour/), as DKMS built it from driver-flavour-dkms,
# on the real kernel:
#   - the attribute, empty, on every PCI endpoint function, on VFs created after load, on
#     re-created VFs and on a function removed and rescanned; never on a bridge (q35's PCIe root
#     ports, header type 1), whether present at load or found again by a rescan;
#   - `echo vfio >` it on virtio-net ends on virtio_vfio_pci through flavourd, and it then reads
#     vfio (flavourd's `done N`); flavourd's revert empties it with `-vfio`, sending no uevent;
#     a flavour flavourd does not know is cleared (`clear N`);
#   - the write rules as a udev monitor sees them: 32 characters accepted and 33 refused,
#     EINVAL without a uevent, a request sent with its sequence number and read back pending,
#     `done N` and `clear N` finishing only the pending request N, `-NAME` clearing only a
#     finished NAME (EBUSY otherwise), bare `-` refused (with flavourd stopped, so that only
#     the writes here change the value);
#   - writers on the 32 VFs while sriov_numvfs goes 32 -> 0 -> 32 and while the module is
#     unloaded and reloaded, the VFs going and coming at the same moment;
#   - a clean rmmod, no kernel warning, `flavourctl status` says whether it is loaded.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

ATTR=driver_flavour
NUM_VFS=32
WRITERS=4

# attr_value ADDR: the attribute's content (newline stripped).
attr_value() {
    local value
    read -r value <"$SYSFS_PCI/$1/$ATTR" || true
    printf '%s\n' "$value"
}

# expect_refused ADDR VALUE ERROR: writing VALUE (as echo does) fails with ERROR (strerror
# text) and changes nothing.
expect_refused() {
    local addr=$1 value=$2 want=$3 before err
    before=$(attr_value "$addr")
    if err=$( (printf '%s\n' "$value" >"$SYSFS_PCI/$addr/$ATTR") 2>&1); then
        fail "writing '$value' (${#value} characters) to $ATTR succeeded"
    fi
    [[ "$err" == *"$want"* ]] || fail "writing '$value' to $ATTR failed with '$err', not '$want'"
    [[ "$(attr_value "$addr")" == "$before" ]] || fail "a refused write changed $ATTR to '$(attr_value "$addr")'"
    note "ok: '$value' (${#value} characters) refused: $want"
}

# expect_written ADDR VALUE: writing VALUE succeeds (what it reads afterwards is flavourd's to change).
expect_written() {
    local err
    err=$( (printf '%s\n' "$2" >"$SYSFS_PCI/$1/$ATTR") 2>&1) || fail "writing '$2' to $1's $ATTR failed: $err"
    note "ok: '$2' written to $1's $ATTR"
}

# reads_eventually ADDR EXPECTED: the attribute reads EXPECTED within 10 s.
reads_eventually() {
    wait_until 10 bash -c "[[ \"\$(head -n1 $SYSFS_PCI/$1/$ATTR)\" == \"$2\" ]]" ||
        fail "$1's $ATTR reads '$(attr_value "$1")', not '$2'"
}

# expect_accepted ADDR VALUE EXPECTED: writing VALUE succeeds and the attribute then reads EXPECTED.
expect_accepted() {
    local addr=$1 value=$2 want=$3 err
    err=$( (printf '%s\n' "$value" >"$SYSFS_PCI/$addr/$ATTR") 2>&1) ||
        fail "writing '$value' (${#value} characters) to $ATTR failed: $err"
    [[ "$(attr_value "$addr")" == "$want" ]] || fail "after writing '$value' $ATTR reads '$(attr_value "$addr")', not '$want'"
    note "ok: '$value' (${#value} characters) accepted; reads '$want'"
}

# module_status: flavourctl status's driver_flavour_module.
module_status() {
    flavourctl status --json | jq -r .driver_flavour_module
}

# header_type ADDR: the function's PCI header type (config space byte 0x0e without the
# multi-function bit): 0 for an endpoint, 1 for a PCI-to-PCI bridge, 2 for CardBus. Cached: a
# function found again at the same address is the same function here.
declare -A header_types=()
header_type() {
    local byte
    if [[ -z "${header_types[$1]:-}" ]]; then
        byte=$(od -An -tu1 -j14 -N1 "$SYSFS_PCI/$1/config") || fail "cannot read $1's config space"
        header_types[$1]=$((byte & 0x7f))
    fi
    printf '%s\n' "${header_types[$1]}"
}

# expect_attr_everywhere WHAT: every PCI endpoint function has the attribute and it reads
# empty; no bridge has it, and there is a bridge (q35's root ports).
expect_attr_everywhere() {
    local dev count=0 bridges=0 value
    for dev in "$SYSFS_PCI"/*; do
        if (($(header_type "${dev##*/}") != 0)); then
            [[ ! -e "$dev/$ATTR" ]] || fail "bridge ${dev##*/} (header type $(header_type "${dev##*/}")) has a $ATTR attribute ($1)"
            bridges=$((bridges + 1))
            continue
        fi
        [[ -e "$dev/$ATTR" ]] || fail "${dev##*/} has no $ATTR attribute ($1)"
        read -r value <"$dev/$ATTR" || true
        [[ -z "$value" ]] || fail "$ATTR of ${dev##*/} reads '$value' ($1), not empty"
        count=$((count + 1))
    done
    ((bridges > 0)) || fail "no bridge in the guest to check ($1)"
    note "ok: $ATTR, empty, on all $count endpoint functions, on none of the $bridges bridges ($1)"
}

# expect_attr_nowhere: no PCI device has the attribute.
expect_attr_nowhere() {
    local left
    left=$(compgen -G "$SYSFS_PCI/*/$ATTR" || true)
    [[ -z "$left" ]] || fail "after rmmod $ATTR is still on $(wc -l <<<"$left") devices"
}

# ---- the kernel's uevents, as `udevadm monitor --kernel` sees them ----
EVENTS=$(mktemp)
events_seen=0
flavour_events=
monitor=

# sync_events: sends a marker uevent (synthetic, on virtio-net) and waits until the monitor has
# it; the kernel sends uevents in order, so every earlier one is in $EVENTS by then. Sets
# flavour_events to the DRIVER_FLAVOUR lines since the previous sync, one a line.
sync_events() {
    local uuid line=
    uuid=$(new_uuid)
    for _ in {1..20}; do
        printf 'change %s\n' "$uuid" >"$SYSFS_PCI/$addr/uevent"
        if wait_until 1 grep -q "^SYNTH_UUID=$uuid\$" "$EVENTS"; then
            line=$(grep -n -m1 "^SYNTH_UUID=$uuid\$" "$EVENTS" | cut -d: -f1)
            break
        fi
    done
    [[ -n "$line" ]] || fail "the udev monitor did not see a marker uevent within 20 s"
    flavour_events=$(sed -n "$((events_seen + 1)),${line}p" "$EVENTS" | grep '^DRIVER_FLAVOUR=' || true)
    events_seen=$line
}

# expect_events LINE...: the DRIVER_FLAVOUR lines since the last sync are exactly LINE... (none
# when no LINE).
expect_events() {
    local want
    sync_events
    want=$(printf '%s\n' "$@")
    [[ "$flavour_events" == "${want%$'\n'}" ]] ||
        fail "uevents since the last check: '${flavour_events//$'\n'/ }', expected '${want//$'\n'/ }'"
    note "ok: uevents: ${flavour_events:-no DRIVER_FLAVOUR}"
}

# ---- the kernel log from here on ----
KLOG=$(mktemp)
klog_follower=
KLOG_MARK="vmtest driver-flavour-module start $(new_uuid)"

# A descriptor that never has data: `read -t` on it is a sleep without a fork.
exec {never}< <(exec sleep 100000 2>/dev/null)
never_pid=$!
nap() { read -r -t "$1" -u "$never" _ || true; }

pf=$(find_dev "${NVME_ID[@]}")
e1000e=$(find_dev "${E1000E_ID[@]}")
addr=$(find_dev "${VIRTIO_NET_ID[@]}")
STOP=$(mktemp -u)
writer_pids=()
cleanup() {
    touch "$STOP"
    ((${#writer_pids[@]})) && kill "${writer_pids[@]}" 2>/dev/null
    [[ -n "$monitor" ]] && kill "$monitor" 2>/dev/null
    [[ -n "$klog_follower" ]] && kill "$klog_follower" 2>/dev/null
    kill "$never_pid" 2>/dev/null
    [[ -e "$SYSFS_PCI/$e1000e" ]] || echo 1 >/sys/bus/pci/rescan
    set_numvfs "$pf" 0
    echo 1 >"$SYSFS_PCI/$pf/sriov_drivers_autoprobe"
    grep -q "^driver_flavour " /proc/modules && rmmod driver_flavour
    rm -f "$EVENTS" "$KLOG" "$STOP" "$STOP".*
    return 0
}
trap cleanup EXIT

expect_daemon
[[ "$(driver_of "$addr")" == virtio-pci ]] || daemon_set "$addr" none
expect_driver "$addr" virtio-pci
[[ "$(cat "$SYSFS_PCI/$pf/sriov_numvfs")" == 0 ]] || fail "$pf starts with VFs"

printf '<6>%s\n' "$KLOG_MARK" >/dev/kmsg
dmesg -r -w >"$KLOG" 2>/dev/null &
klog_follower=$!

! grep -q "^driver_flavour " /proc/modules || run rmmod driver_flavour
[[ "$(module_status)" == false ]] || fail "flavourctl status says driver_flavour is loaded before modprobe"
run modprobe driver_flavour || fail "modprobe driver_flavour exited $?"
[[ "$(module_status)" == true ]] || fail "flavourctl status does not see the loaded driver_flavour module"
flavourctl status | grep '^driver_flavour:'

expect_attr_everywhere "after load"
mode=$(stat -c %a "$SYSFS_PCI/$addr/$ATTR")
[[ "$mode" == 644 ]] || fail "$ATTR has mode $mode, expected 644"
note "ok: mode $mode"

stdbuf -oL udevadm monitor --kernel --property --subsystem-match=pci >"$EVENTS" 2>/dev/null &
monitor=$!
sync_events

# A request through the attribute, the module's compare-and-clear by hand, flavourd's own.
cursor=$(journal_mark)
run sh -c "echo vfio > $SYSFS_PCI/$addr/$ATTR"
wait_until 30 on_driver "$addr" virtio_vfio_pci ||
    fail "$addr is on '$(driver_of "$addr")' 30 s after echo vfio > $ATTR"
expect_module_driver "$addr" virtio_vfio_pci
entry=$(wait_entry 10 "$cursor" MESSAGE_ID="$MSG_BOUND" PCI_SLOT_NAME="$addr")
show_entry "$entry"
expect_fields "$entry" REQUEST_ORIGIN=attribute DRIVER_FLAVOUR=vfio DRIVER=virtio_vfio_pci
reads_eventually "$addr" vfio
note "ok: $ATTR reads vfio while bound (flavourd's done)"
expect_events DRIVER_FLAVOUR=vfio
grep -q '^DRIVER_FLAVOUR_SEQNUM=[0-9][0-9]*$' "$EVENTS" || fail "the request's uevent carries no DRIVER_FLAVOUR_SEQNUM"

expect_refused "$addr" -wrong "Device or resource busy"
expect_refused "$addr" - "Invalid argument"
expect_accepted "$addr" -vfio ""
expect_events
expect_driver "$addr" virtio_vfio_pci

cursor=$(journal_mark)
expect_written "$addr" vfio
entry=$(wait_entry 10 "$cursor" MESSAGE_ID="$MSG_UNCHANGED" PCI_SLOT_NAME="$addr")
show_entry "$entry"
reads_eventually "$addr" vfio
uuid=$(new_uuid)
synth_request "$addr" none "$uuid"
entry=$(wait_entry 30 "$cursor" SYNTH_UUID="$uuid")
show_entry "$entry"
expect_fields "$entry" MESSAGE_ID="$MSG_REVERTED" DRIVER=virtio-pci
expect_driver "$addr" virtio-pci
expect_netdev "$addr"
wait_until 5 bash -c "[[ -z \"\$(cat $SYSFS_PCI/$addr/$ATTR)\" ]]" ||
    fail "after flavourd's revert $ATTR reads '$(attr_value "$addr")', not empty"
note "ok: flavourd's revert emptied $ATTR"
expect_events DRIVER_FLAVOUR=vfio

# Refused writes send nothing; 32 characters are a name, 33 are not.
thirty_two=$(printf 'a%.0s' {1..32})
for value in 'vfio;rm' "${thirty_two}a" '' VFIO 'vfio pci' --vfio -VFIO "-${thirty_two}a"; do
    expect_refused "$addr" "$value" "Invalid argument"
done
expect_events
cursor=$(journal_mark)
expect_written "$addr" "$thirty_two"
entry=$(wait_entry 10 "$cursor" MESSAGE_ID="$MSG_REJECTED" PCI_SLOT_NAME="$addr")
expect_fields "$entry" DRIVER_FLAVOUR="$thirty_two"
reads_eventually "$addr" ""
note "ok: the flavour flavourd does not know was cleared"
expect_events DRIVER_FLAVOUR="$thirty_two"
cursor=$(journal_mark)
expect_written "$addr" none
expect_events DRIVER_FLAVOUR=none
entry=$(wait_entry 10 "$cursor" PCI_SLOT_NAME="$addr" REQUEST_ORIGIN=attribute)
show_entry "$entry"
reads_eventually "$addr" ""
expect_driver "$addr" virtio-pci

# The daemon's writes by hand, with flavourd stopped so that nothing else writes.
run systemctl stop "$FLAVOURD"
seq_of() { local v s; read -r v _ s <"$SYSFS_PCI/$1/$ATTR"; printf '%s\n' "$s"; }
expect_written "$addr" vfio
n=$(seq_of "$addr")
[[ "$(attr_value "$addr")" == "vfio pending $n" && "$n" =~ ^[0-9]+$ ]] || fail "after a request $ATTR reads '$(attr_value "$addr")'"
expect_refused "$addr" "done $((n + 1))" "Device or resource busy"
expect_refused "$addr" "-vfio" "Device or resource busy"
expect_refused "$addr" "done ${n}x" "Invalid argument"
expect_accepted "$addr" "clear $n" ""
expect_refused "$addr" "clear $n" "Device or resource busy"
expect_written "$addr" none
expect_accepted "$addr" "done $((n + 1))" ""
expect_written "$addr" "$thirty_two"
expect_accepted "$addr" "done $((n + 2))" "$thirty_two"
expect_refused "$addr" "-${thirty_two:1}" "Device or resource busy"
expect_accepted "$addr" "-$thirty_two" ""
expect_refused "$addr" "-$thirty_two" "Device or resource busy"
expect_events DRIVER_FLAVOUR=vfio DRIVER_FLAVOUR=none DRIVER_FLAVOUR="$thirty_two"
note "ok: done N / clear N finish only request N, -NAME clears only a finished NAME, none of them sends a uevent"

# A function removed and found again by a rescan starts empty.
expect_driver "$e1000e" e1000e
expect_written "$e1000e" nosuch
[[ "$(attr_value "$e1000e")" == "nosuch pending "* ]] || fail "$e1000e's $ATTR reads '$(attr_value "$e1000e")'"
run sh -c "echo 1 > $SYSFS_PCI/$e1000e/remove"
[[ ! -e "$SYSFS_PCI/$e1000e" ]] || fail "$e1000e is still there after remove"
run sh -c "echo 1 > /sys/bus/pci/rescan"
wait_until 10 test -e "$SYSFS_PCI/$e1000e/$ATTR" || fail "$e1000e, rescanned, has no $ATTR"
[[ -z "$(attr_value "$e1000e")" ]] || fail "$ATTR of the rescanned $e1000e reads '$(attr_value "$e1000e")'"
note "ok: $e1000e, removed and rescanned, has $ATTR, empty"
wait_until 10 on_driver "$e1000e" e1000e || fail "$e1000e is on '$(driver_of "$e1000e")' after the rescan"
expect_netdev "$e1000e"
run systemctl start "$FLAVOURD"
expect_daemon
kill "$monitor"
monitor=

# The root port above the NVMe PF, removed with it and found again by a rescan: the notifier
# gives the PF the attribute and the bridge none.
port=$(basename "$(readlink -f "$SYSFS_PCI/$pf/..")")
(($(header_type "$port") == 1)) || fail "$pf's parent $port is not a bridge (header type $(header_type "$port"))"
[[ ! -e "$SYSFS_PCI/$port/$ATTR" ]] || fail "root port $port has $ATTR"
run sh -c "echo 1 > $SYSFS_PCI/$port/remove"
[[ ! -e "$SYSFS_PCI/$pf" ]] || fail "$pf is still there after its root port was removed"
run sh -c "echo 1 > /sys/bus/pci/rescan"
wait_until 10 test -e "$SYSFS_PCI/$pf/$ATTR" || fail "$pf, rescanned with its root port, has no $ATTR"
[[ -e "$SYSFS_PCI/$port" && ! -e "$SYSFS_PCI/$port/$ATTR" ]] || fail "root port $port, rescanned, is missing or has $ATTR"
note "ok: root port $port, removed and rescanned, has no $ATTR; $pf below it has one"
wait_until 10 on_driver "$pf" nvme || fail "$pf is on '$(driver_of "$pf")' after the rescan"

# VFs created after load start empty, and so do re-created ones.
echo 0 >"$SYSFS_PCI/$pf/sriov_drivers_autoprobe"
set_numvfs "$pf" "$NUM_VFS"
mapfile -t vfs < <(vf_addresses "$pf")
((${#vfs[@]} == NUM_VFS)) || fail "$pf has ${#vfs[@]} VFs, expected $NUM_VFS"
expect_attr_everywhere "$NUM_VFS VFs created after load"
expect_written "${vfs[0]}" nosuch
set_numvfs "$pf" 0
set_numvfs "$pf" "$NUM_VFS"
expect_attr_everywhere "the VFs re-created"

# Writers on every VF while the VFs go and come back, and while the module goes and comes back.
# writer N: writes wN to each VF in turn until $STOP exists; failures (the VF or the file gone)
# are counted, not fatal. Prints "ok failed" into $STOP.N at the end.
writer() {
    local n=$1 ok=0 failed=0 vf
    while [[ ! -e "$STOP" ]]; do
        for vf in "${vfs[@]}"; do
            if { printf 'w%s\n' "$n" >"$SYSFS_PCI/$vf/$ATTR"; } 2>/dev/null; then
                ok=$((ok + 1))
            else
                failed=$((failed + 1))
            fi
            nap 0.02
        done
    done
    printf '%s %s\n' "$ok" "$failed" >"$STOP.$n"
}
for ((n = 1; n <= WRITERS; n++)); do
    writer "$n" >/dev/null 2>&1 &
    writer_pids+=($!)
done
note "$WRITERS writers on the $NUM_VFS VFs' $ATTR"
nap 1
run sh -c "echo 0 > $SYSFS_PCI/$pf/sriov_numvfs"
nap 0.5
run sh -c "echo $NUM_VFS > $SYSFS_PCI/$pf/sriov_numvfs"
nap 1
for vf in "${vfs[@]}"; do
    [[ -e "$SYSFS_PCI/$vf/$ATTR" ]] || fail "VF $vf, re-created under the writers, has no $ATTR"
done
run rmmod driver_flavour || fail "rmmod driver_flavour under $WRITERS writers exited $?"
expect_attr_nowhere
nap 0.5
run modprobe driver_flavour || fail "modprobe driver_flavour under $WRITERS writers exited $?"
nap 1
# The VFs leave while the module unloads and arrive while it loads: the load's scan races the
# bus notifier (one attribute each, none left behind).
for round in 1 2 3; do
    note "round $round: rmmod with sriov_numvfs 0, modprobe with sriov_numvfs $NUM_VFS"
    echo 0 >"$SYSFS_PCI/$pf/sriov_numvfs" &
    numvfs_job=$!
    rmmod driver_flavour || fail "rmmod driver_flavour exited $? (round $round)"
    wait "$numvfs_job" || fail "sriov_numvfs 0 failed (round $round)"
    expect_attr_nowhere
    echo "$NUM_VFS" >"$SYSFS_PCI/$pf/sriov_numvfs" &
    numvfs_job=$!
    modprobe driver_flavour || fail "modprobe driver_flavour exited $? (round $round)"
    wait "$numvfs_job" || fail "sriov_numvfs $NUM_VFS failed (round $round)"
    for vf in "${vfs[@]}"; do
        [[ -e "$SYSFS_PCI/$vf/$ATTR" ]] || fail "VF $vf has no $ATTR (round $round)"
    done
    nap 0.5
done
touch "$STOP"
wait "${writer_pids[@]}" || true
writer_pids=()
total_ok=0
for ((n = 1; n <= WRITERS; n++)); do
    read -r ok failed <"$STOP.$n" || fail "writer $n left no count"
    note "writer $n: $ok writes accepted, $failed failed"
    ((ok > 0)) || fail "writer $n never wrote"
    total_ok=$((total_ok + ok))
done
for dev in "$SYSFS_PCI"/*; do
    if (($(header_type "${dev##*/}") == 0)); then
        [[ -e "$dev/$ATTR" ]] || fail "${dev##*/} has no $ATTR after the reload"
    else
        [[ ! -e "$dev/$ATTR" ]] || fail "bridge ${dev##*/} has $ATTR after the reload"
    fi
done
note "ok: $ATTR on every endpoint function and on no bridge after the reload"
udevadm settle --timeout=120 || note "udevadm settle timed out"
expect_daemon
set_numvfs "$pf" 0
echo 1 >"$SYSFS_PCI/$pf/sriov_drivers_autoprobe"
expect_driver "$pf" nvme

run rmmod driver_flavour || fail "rmmod driver_flavour exited $?"
expect_attr_nowhere
[[ "$(module_status)" == false ]] || fail "flavourctl status still says driver_flavour is loaded after rmmod"
note "ok: rmmod removed $ATTR from every device; flavourctl status says not loaded"

# The kernel log since the mark: nothing at warn level or above from the module (beyond the
# out-of-tree taint notice), and no WARNING, BUG or trace from anyone.
nap 0.5
kill "$klog_follower"
klog_follower=
klog=$(sed -n "/$KLOG_MARK/,\$p" "$KLOG")
[[ -n "$klog" ]] || fail "the kernel log lost the scenario's mark"
# Raw lines are <PRIO>[time] text; kernel messages have facility 0, so PRIO is the level.
module_warnings=$(grep -E '^<[0-4]>' <<<"$klog" | grep -i 'driver_flavour' |
    grep -Ev 'loading out-of-tree module taints kernel|module verification failed' || true)
[[ -z "$module_warnings" ]] || { printf '%s\n' "$module_warnings"; fail "the module logged at warn level or above: $(head -n1 <<<"$module_warnings")"; }
traces=$(grep -E '^<[0-7]>' <<<"$klog" | grep -E 'WARNING|BUG|Call Trace|general protection|refcount_t|use-after-free|Oops|circular locking|recursive locking|blocked for more than' || true)
[[ -z "$traces" ]] || { printf '%s\n' "$traces"; fail "dmesg has kernel warnings: $(head -n1 <<<"$traces")"; }
others=$(grep -cE '^<[0-4]>' <<<"$klog" || true)
note "ok: no warning from the module, no WARN/BUG/trace in dmesg ($others warn-level lines in all, shown below)"
grep -E '^<[0-4]>' <<<"$klog" | head -n 10 || true
