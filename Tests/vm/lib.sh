# shellcheck shell=bash
# Helpers for the guest scenarios (Tests/vm/scenarios/*.sh) and the demo. Runs inside the QEMU
# guest only: every sysfs write here is to the guest's kernel. Source it.

VMTEST_DIR=${VMTEST_DIR:-/usr/lib/driver-flavour-vmtest}
SYSFS_PCI=/sys/bus/pci/devices

# fail WHY: ends the scenario as failed; run-scenarios prints WHY on the result line.
fail() {
    if [[ -n "${VMTEST_REASON:-}" ]]; then printf '%s\n' "$*" >"$VMTEST_REASON"; fi
    printf 'FAIL: %s\n' "$*"
    exit 1
}

# note TEXT: a line of scenario output.
note() {
    printf '%s\n' "$*"
}

# run CMD...: prints and runs a command; its output is shown; its status returned.
run() {
    printf '+ %s\n' "$*"
    "$@"
}

# find_devs VENDOR DEVICE: addresses of the PCI devices with that id (hex, no 0x), in order.
# Reads with the read builtin: every fork costs under TCG.
find_devs() {
    local vendor=$1 device=$2 dev v d
    for dev in "$SYSFS_PCI"/*; do
        read -r v <"$dev/vendor"
        read -r d <"$dev/device"
        [[ "$v" == "0x$vendor" && "$d" == "0x$device" ]] && printf '%s\n' "${dev##*/}"
    done
    return 0
}

# find_dev VENDOR DEVICE: the first such address; fails the scenario if none.
find_dev() {
    local addr
    addr=$(find_devs "$1" "$2" | head -n1)
    [[ -n "$addr" ]] || fail "no PCI device $1:$2 in the guest"
    printf '%s\n' "$addr"
}

# driver_of ADDR: the bound driver's name, or nothing.
driver_of() {
    local link="$SYSFS_PCI/$1/driver"
    [[ -L "$link" ]] && basename "$(readlink "$link")"
    return 0
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds or time runs out.
wait_until() {
    local deadline=$(( $(date +%s) + $1 ))
    shift
    until "$@"; do
        (( $(date +%s) < deadline )) || return 1
        sleep 0.1
    done
}

# expect_driver ADDR DRIVER: fails unless ADDR's driver link names DRIVER.
expect_driver() {
    local got
    got=$(driver_of "$1")
    [[ "$got" == "$2" ]] || fail "$1 is on '${got:-no driver}', expected '$2'"
    note "ok: $1 on $2"
}

# netdevs ADDR: ADDR's network interfaces (virtio-net's hang below its virtioN child device).
netdevs() {
    compgen -G "$SYSFS_PCI/$1/net/*" || compgen -G "$SYSFS_PCI/$1/virtio*/net/*" || true
}

# has_netdev ADDR: true when ADDR has a network interface.
has_netdev() {
    [[ -n "$(netdevs "$1")" ]]
}

# expect_netdev ADDR: fails unless ADDR gets a network interface within 5 s.
expect_netdev() {
    wait_until 5 has_netdev "$1" || fail "$1 has no network interface under net/"
    note "ok: $1 has interface $(basename "$(netdevs "$1" | head -n1)")"
}

# expect_module MODULE: fails unless MODULE is loaded.
expect_module() {
    grep -q "^$1 " /proc/modules || fail "module $1 is not loaded"
    note "ok: module $1 loaded"
}

# module_driver MODULE: the PCI driver MODULE registered. Module name is not driver name:
# virtio_vfio_pci registers virtio_vfio_pci, vfio_pci registers vfio-pci (KBUILD_MODNAME or not).
module_driver() {
    local d
    for d in /sys/module/"$1"/drivers/pci:*; do
        [[ -e "$d" ]] && printf '%s\n' "${d##*/pci:}" && return 0
    done
    return 1
}

# expect_module_driver ADDR MODULE: MODULE is loaded and ADDR is on the driver it registered.
expect_module_driver() {
    local driver
    expect_module "$2"
    driver=$(module_driver "$2") || fail "module $2 registered no PCI driver"
    expect_driver "$1" "$driver"
}

# expect_vfio_vendor ADDR VENDOR: opens ADDR through VFIO and checks the vendor id it reads.
expect_vfio_vendor() {
    local out
    out=$("$VMTEST_DIR/vfio-client" "$1" 2>&1) || fail "vfio-client $1: $out"
    note "vfio-client $1: $out"
    [[ "$out" == "vendor=0x$2 "* ]] || fail "vfio-client $1 read '$out', expected vendor 0x$2"
}

# apply ADDR FLAVOUR: flavourctl apply, failing the scenario when it fails.
apply() {
    run flavourctl apply "$1" "$2" || fail "flavourctl apply $1 $2 exited $?"
}

# Test devices (scripts/vm/run): virtio-net (modern only), e1000e, the SR-IOV NVMe PF.
# Used by the scenarios that source this file.
# shellcheck disable=SC2034
readonly VIRTIO_NET_ID=(1af4 1041) E1000E_ID=(8086 10d3) NVME_ID=(1b36 0010)

# ---- flavourd, the daemon (the scenarios named daemon-*) ----

FLAVOURD=flavourd.service
# shellcheck disable=SC2034
CONF_DIR=/etc/driver-flavour.d
# MESSAGE_IDs of flavourd's outcome entries (Sources/FlavourEngine/OutcomeKind.swift).
# shellcheck disable=SC2034
readonly MSG_BOUND=3c5e1e0a9d7f4b2a8f61c2d4b7e90a11 MSG_FELL_BACK=3c5e1e0a9d7f4b2a8f61c2d4b7e90a12 \
    MSG_UNCHANGED=3c5e1e0a9d7f4b2a8f61c2d4b7e90a13 MSG_FAILED_ROLLED_BACK=3c5e1e0a9d7f4b2a8f61c2d4b7e90a14 \
    MSG_REVERTED=3c5e1e0a9d7f4b2a8f61c2d4b7e90a16 MSG_REJECTED=3c5e1e0a9d7f4b2a8f61c2d4b7e90a18 \
    MSG_SUPERSEDED=3c5e1e0a9d7f4b2a8f61c2d4b7e90a19 MSG_DROPPED=3c5e1e0a9d7f4b2a8f61c2d4b7e90a1a
# MESSAGE_IDs of flavourd's other entries that scenarios match on (Sources/FlavourEngine/JournalNotice.swift):
# a request whose sysfs write has not returned by the deadline, and a resync after lost uevents.
# shellcheck disable=SC2034
readonly MSG_STUCK=3c5e1e0a9d7f4b2a8f61c2d4b7e90a1b MSG_EVENTS_LOST=3c5e1e0a9d7f4b2a8f61c2d4b7e90a1c \
    MSG_RESYNCED=3c5e1e0a9d7f4b2a8f61c2d4b7e90a1d

# daemon_state: flavourd's ActiveState/SubState, e.g. active/running.
daemon_state() {
    local state
    state=$(systemctl show -p ActiveState,SubState --value "$FLAVOURD" | paste -sd/)
    printf '%s\n' "$state"
}

# daemon_running: true when systemd has flavourd active/running (after READY=1).
daemon_running() {
    [[ "$(daemon_state)" == active/running ]]
}

# expect_daemon: fails unless flavourd is active/running within 30 s.
expect_daemon() {
    wait_until 30 daemon_running || fail "flavourd is $(daemon_state), not active/running"
}

# journal_mark: a mark for "entries from now on" (@seconds.micros, the realtime clock, as
# journalctl --since takes it). Not a journal cursor: systemd 252's --after-cursor skips the
# first matching entry when the cursor's own entry does not match the filter (-u, FIELD=).
journal_mark() {
    printf '@%s\n' "$EPOCHREALTIME"
}

# flavourd_entries MARK MATCH...: flavourd's journal entries since MARK (journal_mark; empty
# for the whole boot) that have every FIELD=VALUE of MATCH, as JSON, one a line.
flavourd_entries() {
    local since=$1
    shift
    journalctl -q -b -o json --no-pager -u "$FLAVOURD" ${since:+"--since=$since"} "$@"
}

# wait_entry SECONDS CURSOR MATCH...: prints the first such entry once journald has it; fails
# the scenario when none comes within SECONDS.
wait_entry() {
    local seconds=$1 cursor=$2 entry deadline
    shift 2
    deadline=$(($(date +%s) + seconds))
    while :; do
        entry=$(flavourd_entries "$cursor" "$@" | head -n1)
        [[ -n "$entry" ]] && break
        (($(date +%s) < deadline)) || fail "no flavourd journal entry $* within ${seconds}s"
        sleep 0.2
    done
    printf '%s\n' "$entry"
}

# show_entry JSON: an outcome entry's message and flavourd's own fields, one line.
show_entry() {
    jq -c '{MESSAGE} + with_entries(select(.key | test("^(MESSAGE_ID|PCI_SLOT_NAME|PCI_ID|MODALIAS|DRIVER_FLAVOUR|DRIVER|DRIVER_PREVIOUS|MODULE|ATTEMPTS|ERRNO|REQUEST_ORIGIN|SYNTH_UUID|REASON)$")))' <<<"$1"
}

# expect_fields JSON FIELD=VALUE...: fails unless the entry has each field with that value;
# FIELD=? only asks that the field is there and not empty.
expect_fields() {
    local entry=$1 pair field value got
    shift
    for pair in "$@"; do
        field=${pair%%=*} value=${pair#*=}
        got=$(jq -r --arg f "$field" '.[$f] // empty | if type == "array" then "(binary)" else . end' <<<"$entry")
        if [[ "$value" == "?" ]]; then
            [[ -n "$got" ]] || fail "journal entry has no $field: $(show_entry "$entry")"
        else
            [[ "$got" == "$value" ]] || fail "journal entry has $field='$got', expected '$value'"
        fi
    done
    note "ok: journal entry has $*"
}

# synth_request ADDR FLAVOUR [UUID]: a synthetic request (lib/kobject_uevent.c: arguments are
# alphanumeric, so the key is DRIVERFLAVOUR). The caller picks the UUID to find the outcome by.
synth_request() {
    local uuid=${3:-}
    [[ -n "$uuid" ]] || read -r uuid </proc/sys/kernel/random/uuid
    printf 'change %s DRIVERFLAVOUR=%s\n' "$uuid" "$2" >"$SYSFS_PCI/$1/uevent" ||
        fail "writing a synthetic request to $1/uevent failed"
}

# expect_daemon_refuses ADDR TEXT [FLAVOUR]: a synthetic request (vfio unless FLAVOUR) for ADDR
# ends with flavourd's "rejected" outcome whose REASON contains TEXT; the device keeps its
# driver and driver_override.
expect_daemon_refuses() {
    local addr=$1 text=$2 flavour=${3:-vfio} before mark uuid entry
    before=$(device_states "$addr")
    expect_daemon
    mark=$(journal_mark)
    read -r uuid </proc/sys/kernel/random/uuid
    synth_request "$addr" "$flavour" "$uuid"
    entry=$(wait_entry 30 "$mark" "SYNTH_UUID=$uuid")
    show_entry "$entry"
    expect_fields "$entry" "MESSAGE_ID=$MSG_REJECTED" "PCI_SLOT_NAME=$addr"
    [[ "$(jq -r '.REASON // empty' <<<"$entry")" == *"$text"* ]] || fail "the rejection's REASON does not say '$text'"
    expect_states "$before" "$addr"
}

# new_uuid: a random UUID, without forking.
new_uuid() {
    local uuid
    read -r uuid </proc/sys/kernel/random/uuid
    printf '%s\n' "$uuid"
}

# on_driver ADDR DRIVER: true when ADDR's driver link names DRIVER. Without a fork (readlink
# is a process, and a process costs milliseconds under TCG): cd -P resolves the link.
on_driver() {
    local here=$PWD name
    cd -P "$SYSFS_PCI/$1/driver" 2>/dev/null || return 1
    name=${PWD##*/}
    cd "$here" || return 1
    [[ "$name" == "$2" ]]
}

# override_of ADDR: ADDR's driver_override, (null) when unset.
override_of() {
    local value
    read -r value <"$SYSFS_PCI/$1/driver_override"
    printf '%s\n' "$value"
}

# vfs_on_driver PF N DRIVER: N fresh VFs of PF (autoprobe off, so nothing probes them), each
# given to DRIVER through driver_override and bind, as driverctl would; fills the array `vfs`.
vfs_on_driver() {
    local pf=$1 n=$2 driver=$3 vf
    set_numvfs "$pf" 0
    echo 0 >"$SYSFS_PCI/$pf/sriov_drivers_autoprobe"
    set_numvfs "$pf" "$n"
    mapfile -t vfs < <(vf_addresses "$pf")
    ((${#vfs[@]} == n)) || fail "$pf has ${#vfs[@]} VFs, expected $n"
    for vf in "${vfs[@]}"; do
        echo "$driver" >"$SYSFS_PCI/$vf/driver_override"
        echo "$vf" >"/sys/bus/pci/drivers/$driver/bind" || fail "cannot bind $vf to $driver"
    done
}

# moved_off DRIVER: true when a VF of `vfs` has left DRIVER (a batch has started).
moved_off() {
    local vf
    for vf in "${vfs[@]}"; do on_driver "$vf" "$1" || return 0; done
    return 1
}

# inflight_addresses: the devices with a change recorded in flavourd's crash journal (the
# `address=` lines of its record files, /run/driver-flavour/inflight/PID-ID), one a line.
inflight_addresses() {
    grep -h '^address=' /run/driver-flavour/inflight/[0-9]* 2>/dev/null | cut -d= -f2 | sort -u || true
}

# test_driver_param NAME VALUE: sets a parameter of the project's test variant driver
# (Tests/vm/modules/flavour_test_vfio_pci: fail_probe, block_remove), loading it first.
test_driver_param() {
    grep -q '^flavour_test_vfio_pci ' /proc/modules || modprobe flavour_test_vfio_pci || fail "cannot load flavour_test_vfio_pci"
    echo "$2" >"/sys/module/flavour_test_vfio_pci/parameters/$1" || fail "cannot set flavour_test_vfio_pci's $1 to $2"
}

# daemon_options OPTIONS...: restarts flavourd with extra command-line options (FLAVOURD_OPTIONS,
# which the unit's ExecStart passes on) through a runtime drop-in; no OPTIONS: without them.
DAEMON_DROPIN=/run/systemd/system/flavourd.service.d/90-vmtest-options.conf
daemon_options() {
    if (($#)); then
        mkdir -p "${DAEMON_DROPIN%/*}"
        printf '[Service]\nEnvironment="FLAVOURD_OPTIONS=%s"\n' "$*" >"$DAEMON_DROPIN"
    else
        rm -f "$DAEMON_DROPIN"
    fi
    systemctl daemon-reload
    run systemctl restart "$FLAVOURD" || fail "systemctl restart $FLAVOURD exited $?"
    expect_daemon
    note "flavourd (pid $(systemctl show -p MainPID --value "$FLAVOURD")) runs with options '${*:-}'"
}

# daemon_set ADDR FLAVOUR: flavourctl set (through the daemon), failing the scenario when the
# request fails; prints flavourctl's line.
daemon_set() {
    run flavourctl set "$1" "$2" || fail "flavourctl set $1 $2 exited $?"
}

# reload_daemon: systemctl reload, then waits for flavourd's "Configuration reloaded" entry:
# ExecReload= is a kill -HUP that returns before the daemon has read anything (systemd 252
# has no Type=notify-reload), so `systemctl reload` alone does not mean the config is in.
reload_daemon() {
    local cursor
    cursor=$(journal_mark)
    run systemctl reload "$FLAVOURD" || fail "systemctl reload $FLAVOURD exited $?"
    wait_entry 20 "$cursor" MESSAGE="Configuration reloaded" >/dev/null
    note "ok: flavourd reloaded its configuration"
}

# vf_addresses PF: the PF's VF addresses, in VF order.
vf_addresses() {
    local link n
    n=$(cat "$SYSFS_PCI/$1/sriov_numvfs")
    for ((i = 0; i < n; i++)); do
        link=$(readlink "$SYSFS_PCI/$1/virtfn$i") && printf '%s\n' "${link##*/}"
    done
}

# set_numvfs PF N: sriov_numvfs to N (through 0 when it has other VFs).
set_numvfs() {
    local now
    now=$(cat "$SYSFS_PCI/$1/sriov_numvfs")
    [[ "$now" == "$2" ]] && return 0
    [[ "$now" == 0 ]] || echo 0 >"$SYSFS_PCI/$1/sriov_numvfs"
    [[ "$2" == 0 ]] || echo "$2" >"$SYSFS_PCI/$1/sriov_numvfs"
}

# ---- the Debian packages (the scenarios of the packages profile) ----

# The packages the guest was built with (scripts/vm/build-guest): driver-flavour and
# driver-flavour-dkms as installed, and driver-flavour VERSION+vmtest1, the upgrade.
# shellcheck disable=SC2034
DEBS_DIR=$VMTEST_DIR/debs
HOLD_CONF=$CONF_DIR/50-vmtest-hold.conf
PERSISTED=$CONF_DIR/90-flavourctl-persisted.conf

# package_state PACKAGE: dpkg's status of PACKAGE ("install ok installed", "deinstall ok
# config-files", ...), or "not-installed".
package_state() {
    local state
    state=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || state=not-installed
    [[ -n "$state" && "$state" != "unknown ok not-installed" ]] || state=not-installed
    printf '%s\n' "$state"
}

# hold_devices: puts two devices where a host would hold them for its VMs, and sets their
# addresses in `vnet` and `e1000e`: virtio-net on vfio-pci by a standing request in HOLD_CONF
# (virtio_vfio_pci denied), e1000e on its variant driver by `flavourctl set --persist`.
hold_devices() {
    vnet=$(find_dev "${VIRTIO_NET_ID[@]}")
    e1000e=$(find_dev "${E1000E_ID[@]}")
    expect_daemon
    printf '%s\n' "deny vfio vfio_pci:v00001AF4d00001041* virtio_vfio_pci" "request vfio $vnet" >"$HOLD_CONF"
    reload_daemon
    wait_until 30 on_driver "$vnet" vfio-pci || fail "$vnet is on '$(driver_of "$vnet")', not vfio-pci, 30 s after the standing request"
    run flavourctl set --persist "$e1000e" vfio || fail "flavourctl set --persist $e1000e vfio exited $?"
    expect_module_driver "$e1000e" flavour_test_vfio_pci
    grep -q "^request vfio $e1000e" "$PERSISTED" || fail "$PERSISTED has no request for $e1000e"
    note "ok: $vnet held on vfio-pci (standing request), $e1000e on flavour-test-vfio-pci (persisted)"
}

# device_states ADDR...: "ADDR DRIVER OVERRIDE" per device, to compare before and after.
device_states() {
    local addr
    for addr in "$@"; do
        printf '%s %s %s\n' "$addr" "$(driver_of "$addr")" "$(override_of "$addr")"
    done
}

# expect_states BEFORE ADDR...: each device's driver and driver_override are as in BEFORE.
expect_states() {
    local before=$1 now
    shift
    now=$(device_states "$@")
    [[ "$now" == "$before" ]] || fail "devices moved: before '${before//$'\n'/; }', now '${now//$'\n'/; }'"
    note "ok: devices where they were: ${now//$'\n'/; }"
}

# expect_no_flavourd: flavourd.service is not running and no flavourd process is left.
expect_no_flavourd() {
    local state
    state=$(systemctl show -p ActiveState --value "$FLAVOURD")
    [[ "$state" != active && "$state" != activating && "$state" != deactivating ]] ||
        fail "$FLAVOURD is $state after the package was removed"
    ! pgrep -x flavourd >/dev/null || fail "a flavourd process is still running (pid $(pgrep -x flavourd | paste -sd,))"
    note "ok: $FLAVOURD $state, no flavourd process"
}

# boot_times: when the boot reached local-fs.target, the late mount and sysinit.target (seconds
# since the kernel started, from systemd's monotonic timestamps; systemd-analyze says nothing
# while the boot, which runs the scenarios, has not finished).
boot_times() {
    local unit us out=
    for unit in local-fs.target srv-late.mount sysinit.target; do
        us=$(systemctl show -p ActiveEnterTimestampMonotonic --value "$unit")
        out+="$unit $(awk -v us="$us" 'BEGIN { printf "%.2f s", us / 1e6 }'), "
    done
    printf '%s\n' "${out%, }"
}

# ---- the in-use guard (the guard profile's scenarios, 8x-guard-*) ----

# pci_above PATH: the nearest PCI device address above a sysfs device path (readlink -f'ed).
pci_above() {
    local path=$1 name
    while [[ "$path" == /sys/devices/* ]]; do
        name=${path##*/}
        if [[ "$name" =~ ^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$ ]]; then
            printf '%s\n' "$name"
            return 0
        fi
        path=${path%/*}
    done
    fail "no PCI device above $1"
}

# disk_by_serial SERIAL: the block device (vdb, ...) of the virtio-blk disk QEMU was given with
# serial=SERIAL (scripts/vm/profiles/guard.sh), from its `serial` attribute.
disk_by_serial() {
    local disk serial
    for disk in /sys/block/vd*; do
        [[ -e "$disk/serial" ]] || continue
        read -r serial <"$disk/serial"
        [[ "$serial" == "$1" ]] && printf '%s\n' "${disk##*/}" && return 0
    done
    fail "no virtio-blk disk with serial $1"
}

# expect_apply_refused ADDR FLAVOUR TEXT...: flavourctl apply exits 1 saying the device is in
# use and each TEXT; the device keeps its driver and driver_override.
expect_apply_refused() {
    local addr=$1 flavour=$2 before out rc=0 text
    shift 2
    before=$(device_states "$addr")
    out=$(flavourctl apply "$addr" "$flavour" 2>&1) || rc=$?
    printf '%s\n' "$out"
    ((rc != 0)) || fail "flavourctl apply $addr $flavour took the device (exit 0)"
    for text in "$@"; do
        [[ "$out" == *"$text"* ]] || fail "flavourctl apply $addr $flavour exited $rc without saying '$text'"
    done
    expect_states "$before" "$addr"
    note "ok: flavourctl apply $addr $flavour refused (exit $rc) and wrote nothing"
}
