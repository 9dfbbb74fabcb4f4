#!/usr/bin/env bash
# vm-profile: scale
# vm-timeout: 7200
# The seeds' case (issue 13): every VF of several SR-IOV NVMe PFs to vfio-pci, against the
# kernel's own floor on the same boot. Prints BENCH lines for:
#   create     the kernel creating the VFs with autoprobe off (sriov_numvfs, every PF);
#   raw        a shell loop of driver_override + bind + link check over every VF (the floor is
#              create + raw);
#   standing   flavourd through a standing request: from the first sriov_numvfs write to the
#              last verified bind (flavourd's last `bound` entry);
#   synthetic  flavourd through one synthetic request a VF, VFs made beforehand;
# each flavourd run with its CPU (user + system) a VF, RSS (idle after the run, and at the last
# bind), outcomes per VF and the default driver's probes (a kprobe on nvme_probe). The standing
# run is repeated with driverctl's slow udev rule (89-vfio-uio.rules, a bash program per new
# /dev/vfio group) masked, once more with flavourd on the kernel source (rule masked: that
# source is for hosts without udevd), and last with the rule installed and the cgroup cpu
# controller on (as on container hosts).
# Events no request covers (a VF's add, a bind flavourd did not make, an unbind and a remove) get
# their CPU a VF, on either source (rule masked). Each flavourd run also says where the guest's
# CPU went (udevd and the programs its rules run, PID 1, journald, flavourd).
# Passes when every VF ends on vfio-pci with exactly one outcome in each flavourd run; the
# targets (flavourd <= 1.5x the floor, CPU a VF <= the raw loop's time a VF, RSS < 12 MB) are
# reported, not enforced.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

DRIVER=vfio-pci
CONF="$CONF_DIR/95-scale.conf"
VFS_PER_PF=$(sed -n 's/.*flavour\.scale_vfs=\([0-9]*\).*/\1/p' /proc/cmdline)
[[ -n "$VFS_PER_PF" ]] || fail "no flavour.scale_vfs= on the kernel command line (profile scale sets it)"
mapfile -t pfs < <(find_devs "${NVME_ID[@]}")
((${#pfs[@]})) || fail "no NVMe PF in the guest"
TOTAL=$((${#pfs[@]} * VFS_PER_PF))
TRACING=/sys/kernel/tracing
PROBE=flavour_nvme_probe

exec {never}< <(exec sleep 100000 2>/dev/null)
never_pid=$!
nap() { read -r -t "$1" -u "$never" _ || true; }
now_us() { printf '%s\n' "${EPOCHREALTIME/./}"; }

cleanup() {
    kill "$never_pid" 2>/dev/null
    rm -f "$CONF" "/etc/udev/rules.d/$DRIVERCTL_RULE"
    systemctl revert flavour-vmtest.service >/dev/null 2>&1 || true
    udevadm control --reload || true
    for pf in "${pfs[@]}"; do set_numvfs "$pf" 0; done
    reload_daemon >/dev/null || true
    for pf in "${pfs[@]}"; do echo 1 >"$SYSFS_PCI/$pf/sriov_drivers_autoprobe"; done
    echo "-:$PROBE" >>"$TRACING/kprobe_events" 2>/dev/null || true
}
trap cleanup EXIT

# The default driver's probes, counted by a kprobe: dmesg's "Adding to iommu group" lines are
# not probes.
[[ -e "$TRACING/kprobe_events" ]] || mount -t tracefs tracefs "$TRACING"
echo "p:$PROBE nvme_probe" >>"$TRACING/kprobe_events" || fail "cannot place a kprobe on nvme_probe"
echo 1 >"$TRACING/events/kprobes/$PROBE/enable"
# Each probe's caller, in the trace buffer: who made the default driver probe a VF.
echo stacktrace >"$TRACING/events/kprobes/$PROBE/trigger" 2>/dev/null || true
probes() { awk -v p="$PROBE" '$1 == p { print $2 }' "$TRACING/kprobe_profile"; }
# probe_callers: the trace's last probes, each with its task and call stack (first 3).
probe_callers() {
    awk '/=> / || /'"$PROBE"'/' "$TRACING/trace" | head -n 60
}

# all_vfs: every VF address of every PF, into the array `vfs`.
all_vfs() {
    local pf
    vfs=()
    for pf in "${pfs[@]}"; do mapfile -t -O "${#vfs[@]}" vfs < <(vf_addresses "$pf"); done
}

# wait_all SECONDS: until every VF is on $DRIVER, polling slowly (0.5 s) so the poll takes no CPU
# from the daemon in a two-CPU guest. Fails when SECONDS pass, or sooner when the count of VFs on
# $DRIVER has not moved for STALL_SECONDS (a VF that will not be bound should not cost the whole
# deadline), describing the VFs left behind.
STALL_SECONDS=180
wait_all() {
    local now deadline=$(($(now_us) + $1 * 1000000)) moved=$(now_us) bound last_bound=-1 pending left vf
    all_vfs
    pending=("${vfs[@]}")
    while :; do
        left=()
        for vf in "${pending[@]}"; do on_driver "$vf" "$DRIVER" || left+=("$vf"); done
        pending=("${left[@]}")
        ((${#vfs[@]} == TOTAL && ${#pending[@]} == 0)) && return 0
        now=$(now_us)
        bound=$((${#vfs[@]} - ${#pending[@]}))
        if ((bound != last_bound)); then last_bound=$bound moved=$now; fi
        if ((now >= deadline)); then
            unbound_report "${pending[@]}"
            fail "${#pending[@]} of $TOTAL VFs not on $DRIVER after $1 s (${#vfs[@]} VFs exist): ${pending[*]:0:4}"
        fi
        if ((now - moved >= STALL_SECONDS * 1000000)); then
            unbound_report "${pending[@]}"
            fail "${#pending[@]} of $TOTAL VFs not on $DRIVER, none bound in the last $STALL_SECONDS s (${#vfs[@]} VFs exist): ${pending[*]:0:4}"
        fi
        nap 0.5
        all_vfs
        pending=("${vfs[@]}")
    done
}

# unbound_report VF...: what a failed wait needs to be understood: for up to four of the VFs,
# their driver and driver_override and flavourd's journal entries about them; flavourd's
# warnings and errors of the boot, counted by message; the kernel's nvme lines.
unbound_report() {
    local vf driver
    for vf in "${@:1:4}"; do
        driver=$(basename "$(readlink "$SYSFS_PCI/$vf/driver" 2>/dev/null)" 2>/dev/null || true)
        note "unbound $vf: driver ${driver:-none}, driver_override $(override_of "$vf")"
        flavourd_entries "" PCI_SLOT_NAME="$vf" | jq -r '"  \(.__REALTIME_TIMESTAMP) \(.MESSAGE) previous=\(.DRIVER_PREVIOUS // "-") \(.REASON // "") \(.ATTEMPTS // "")"' | tail -n 12
    done
    note "flavourd's warnings and errors this boot, by message:"
    journalctl -q -b -o json --no-pager -u "$FLAVOURD" -p warning | jq -r .MESSAGE | sort | uniq -c | sort -rn | head -n 12
    note "the default driver's probes, with their callers:"
    probe_callers
    note "the kernel's nvme lines (last 12):"
    dmesg | grep -E 'nvme|vfio' | grep -v 'Adding to iommu group' | tail -n 12 || true
}

# proc_cpu_ms PID: user + system CPU in milliseconds.
proc_cpu_ms() {
    local stat hz
    read -r stat <"/proc/$1/stat"
    stat=${stat##*) }
    hz=$(getconf CLK_TCK)
    awk -v hz="$hz" '{ print ($12 + $13) * 1000 / hz }' <<<"$stat"
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
rss_parts() { awk '/^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } END { printf "anonymous %.1f, file-backed %.1f MiB", a / 1024, f / 1024 }' "/proc/$1/status"; }
# rss_files PID: the file-backed RSS by file, largest first (flavourd's binary, the libraries,
# libkmod's mmapped indexes), in KiB.
rss_files() {
    awk '/^[0-9a-f]+-[0-9a-f]+ / { file = ($6 ~ /^\//) ? $6 : "" } /^Rss:/ && file != "" { kib[file] += $2 }
        END { for (f in kib) if (kib[f] >= 64) { n = split(f, part, "/"); printf "%d %s\n", kib[f], part[n] } }' "/proc/$1/smaps" |
        sort -rn | awk '{ printf "%s%s %d", (NR > 1 ? ", " : ""), $2, $1 }'
}

# Where the guest's CPU goes during a run, by cgroup (cpu.stat's usage_usec counts every process
# the unit ever had, the bash programs udev rules run included): udevd, systemd (PID 1, which
# makes a .device unit for every TAG+="systemd" device), journald, flavourd, and all of the guest
# (/proc/stat, in USER_HZ ticks; idle excluded).
CGROUPS=(system.slice/systemd-udevd.service init.scope system.slice/systemd-journald.service "system.slice/$FLAVOURD")
cpu_by_cgroup() {
    local cg
    for cg in "${CGROUPS[@]}"; do awk '$1 == "usage_usec" { print $2 }' "/sys/fs/cgroup/$cg/cpu.stat" 2>/dev/null || echo 0; done
    awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { print ($2 + $3 + $4 + $7 + $8) * 1000000 / hz }' /proc/stat
}
# cpu_share NAME BEFORE...: the CPU seconds each cgroup used since BEFORE (cpu_by_cgroup's lines).
cpu_share() {
    local name=$1
    shift
    paste <(printf '%s\n' "$@") <(cpu_by_cgroup) | awk -v n="$name" '
        { d[NR] = ($2 - $1) / 1000000 }
        END { printf "BENCH %-10s guest CPU %.1f s: udevd %.1f s, systemd %.1f s, journald %.1f s, flavourd %.1f s\n", n, d[5], d[1], d[2], d[3], d[4] }'
}

# proc_detail PID: flavourd's user and system CPU (ms), its read and write syscalls (/proc/PID/io)
# and context switches (every thread's), one a line.
proc_detail() {
    local stat hz t
    read -r stat <"/proc/$1/stat"
    stat=${stat##*) }
    hz=$(getconf CLK_TCK)
    awk -v hz="$hz" '{ print $12 * 1000 / hz; print $13 * 1000 / hz }' <<<"$stat"
    awk '$1 == "syscr:" || $1 == "syscw:" { print $2 }' "/proc/$1/io"
    for t in /proc/"$1"/task/*/status; do awk '/ctxt_switches:/ { s += $2 } END { print s }' "$t"; done | awk '{ s += $1 } END { print s }'
}

# rule_masked yes|no: driverctl's udev rule (a bash program for every new /dev/vfio group) masked
# or as installed. Phases that measure flavourd without a request, or the kernel source (which
# is for hosts without udevd), run it masked: at 1,000 VFs its backlog alone takes minutes.
DRIVERCTL_RULE=89-vfio-uio.rules
have_driverctl_rule() { [[ -e /usr/lib/udev/rules.d/$DRIVERCTL_RULE || -e /lib/udev/rules.d/$DRIVERCTL_RULE ]]; }
rule_masked() {
    have_driverctl_rule || return 0
    if [[ $1 == yes ]]; then ln -sf /dev/null "/etc/udev/rules.d/$DRIVERCTL_RULE"; else rm -f "/etc/udev/rules.d/$DRIVERCTL_RULE"; fi
    udevadm control --reload
}

# no_vfs: every PF without VFs.
no_vfs() {
    local pf
    for pf in "${pfs[@]}"; do set_numvfs "$pf" 0; done
}

# create_vfs: sriov_numvfs on every PF, in order.
create_vfs() {
    local pf
    for pf in "${pfs[@]}"; do echo "$VFS_PER_PF" >"$SYSFS_PCI/$pf/sriov_numvfs"; done
}

# flavourd_run NAME START_US MARK PID PROBES_BEFORE CPU_BEFORE BASE_US BASE_NAME: waits for every
# VF, checks one outcome each, prints the run's BENCH lines (its total against BASE_US, the floor
# or the raw loop); sets `run_us`.
flavourd_run() {
    local name=$1 start=$2 mark=$3 pid=$4 probes_before=$5 cpu_before=$6 base=$7 base_name=$8 last counts bad cpu rss
    wait_all $((60 + TOTAL * 2))
    local share detail
    share=$(cpu_share "$name" "${cg_before[@]}")
    detail=$(paste <(printf '%s\n' "${detail_before[@]}") <(proc_detail "$pid") | awk -v k="$TOTAL" '
        { d[NR] = $2 - $1 }
        END { printf "user %.2f ms + system %.2f ms, %.0f read and %.0f write syscalls, %.1f context switches a VF", d[1] / k, d[2] / k, d[3] / k, d[4] / k, d[5] / k }')
    wait_until 60 bash -c "(( \$(journalctl -q -o cat -u $FLAVOURD --since='$mark' MESSAGE_ID=$MSG_BOUND | wc -l) >= $TOTAL ))" ||
        fail "$name: flavourd logged fewer than $TOTAL 'bound' outcomes"
    last=$(flavourd_entries "$mark" MESSAGE_ID="$MSG_BOUND" | jq -s 'map(.__REALTIME_TIMESTAMP | tonumber) | max')
    run_us=$((last - start))
    # Exactly one outcome entry per VF (any MESSAGE_ID of an outcome), and each a `bound`.
    counts=$(flavourd_entries "$mark" | jq -r 'select(.MESSAGE_ID != null and .PCI_SLOT_NAME != null) | "\(.PCI_SLOT_NAME) \(.MESSAGE_ID)"' |
        sort | uniq -c)
    bad=$(awk -v b="$MSG_BOUND" '$1 != 1 || $3 != b' <<<"$counts" | head -n3)
    [[ -z "$bad" ]] || fail "$name: a VF without exactly one 'bound' outcome: $bad"
    (($(wc -l <<<"$counts") == TOTAL)) || fail "$name: $(wc -l <<<"$counts") devices have outcomes, expected $TOTAL"
    cpu=$(awk -v a="$cpu_before" -v b="$(proc_cpu_ms "$pid")" 'BEGIN { print b - a }')
    printf '%s\n' "$share"
    printf 'BENCH %-10s flavourd a VF: %s\n' "$name" "$detail"
    # RSS twice: at the last bind, and once flavourd is idle (status.json says nothing in
    # flight, queued or held, written after the burst; HeapTrimmer gives the burst's freed
    # heap back right after that write), which is the target's "after the run".
    local rss_bind idle_status='(.in_flight | length) == 0 and .queued_count == 0 and (.held_for_vf_creations // 0) == 0'
    rss_bind=$(rss_kib "$pid")
    wait_until 60 jq -e "$idle_status" /run/driver-flavour/status.json >/dev/null ||
        fail "$name: status.json does not say flavourd is idle 60 s after the last bind: $(jq -c '{in_flight, queued_count, held_for_vf_creations}' /run/driver-flavour/status.json)"
    nap 1
    rss=$(rss_kib "$pid")
    printf 'BENCH %-10s file-backed RSS by file, KiB: %s\n' "$name" "$(rss_files "$pid")"
    local probed=$(($(probes) - probes_before))
    if ((probed)); then
        probe_callers
        fail "$name: the default driver's probe ran $probed time(s) on VFs whose PF has autoprobe off"
    fi
    awk -v n="$name" -v us="$run_us" -v k="$TOTAL" -v f="$base" -v fn="$base_name" -v cpu="$cpu" -v per="$raw_per_vf_ms" -v rss="$rss" -v rss_bind="$rss_bind" -v parts="$(rss_parts "$pid")" \
        -v p="$probed" 'BEGIN {
        printf "BENCH %-10s %5d VFs: total %9.1f ms, %6.2f ms a VF, %.2fx %s (target <= 1.5x: %s)\n", n, k, us / 1000, us / 1000 / k, us / f, fn, (us / f <= 1.5) ? "met" : "missed"
        printf "BENCH %-10s flavourd CPU %.0f ms, %.2f ms a VF (target <= the raw loop'"'"'s %.2f ms a VF: %s); RSS after %.1f MiB, idle (%s; target < 12 MB: %s), %.1f MiB at the last bind; default-driver probes %d; one outcome per VF\n", n, cpu, cpu / k, per, (cpu / k <= per) ? "met" : "missed", rss / 1024, parts, (rss * 1024 < 12000000) ? "met" : "missed", rss_bind / 1024, p
    }'
}

expect_daemon
grep -q '^vfio_pci ' /proc/modules || run modprobe vfio-pci || fail "cannot load vfio-pci"
pid=$(systemctl show -p MainPID --value "$FLAVOURD")
note "${#pfs[@]} PFs x $VFS_PER_PF VFs = $TOTAL VFs; flavourd pid $pid, RSS $(($(rss_kib "$pid") / 1024)) MiB; driverctl's rule $(ls /usr/lib/udev/rules.d/89-vfio-uio.rules 2>/dev/null || echo absent)"

# (1) The floor: the kernel creates the VFs with autoprobe off, then a shell loop binds them.
no_vfs
for pf in "${pfs[@]}"; do echo 0 >"$SYSFS_PCI/$pf/sriov_drivers_autoprobe"; done
probes_before=$(probes)
start=$(now_us)
create_vfs
create_us=$(($(now_us) - start))
all_vfs
((${#vfs[@]} == TOTAL)) || fail "the PFs have ${#vfs[@]} VFs, expected $TOTAL"
start=$(now_us)
for vf in "${vfs[@]}"; do
    echo "$DRIVER" >"$SYSFS_PCI/$vf/driver_override"
    echo "$vf" >"/sys/bus/pci/drivers/$DRIVER/bind"
    on_driver "$vf" "$DRIVER" || fail "raw loop: $vf not on $DRIVER after bind"
done
raw_us=$(($(now_us) - start))
floor_us=$((create_us + raw_us))
raw_per_vf_ms=$(awk -v us="$raw_us" -v k="$TOTAL" 'BEGIN { printf "%.2f", us / 1000 / k }')
awk -v c="$create_us" -v r="$raw_us" -v k="$TOTAL" -v p="$(($(probes) - probes_before))" 'BEGIN {
    printf "BENCH create     %5d VFs: %9.1f ms (sriov_numvfs, autoprobe off)\n", k, c / 1000
    printf "BENCH raw        %5d VFs: %9.1f ms, %6.2f ms a VF (driver_override + bind + check); floor %.1f ms; default-driver probes %d\n", k, r / 1000, r / 1000 / k, (c + r) / 1000, p
}'
no_vfs
udevadm settle --timeout=600 || true

# settled_cpu_ms: flavourd's CPU once udevd and flavourd have heard everything so far.
settled_cpu_ms() {
    udevadm settle --timeout=600 || true
    nap 1
    proc_cpu_ms "$pid"
}

# uevent_sockets PID GROUP: how many NETLINK_KOBJECT_UEVENT sockets (protocol 15) of the process
# are bound to GROUP (1: the kernel's, 2: udevd's), from /proc/net/netlink by inode.
uevent_sockets() {
    local inodes
    inodes=$(find "/proc/$1/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | sed 's/socket:\[\(.*\)\]/\1/' | paste -sd'|')
    [[ -n "$inodes" ]] || { echo 0; return; }
    awk -v g="$(printf '%08x' "$2")" -v re="^($inodes)$" '$2 == 15 && $4 == g && $NF ~ re { n++ } END { print n + 0 }' /proc/net/netlink
}

# expect_kernel_socket PID N WHEN: flavourd on the udev source listens to the kernel's group
# (its own adds) only while a standing request exists: N such sockets, and one of udevd's. (The
# kernel source's one monitor is on the kernel's group throughout: nothing to check.)
expect_kernel_socket() {
    local kernel udev
    [[ "$(jq -r .source /run/driver-flavour/status.json)" == udev+kernel-add ]] || return 0
    kernel=$(uevent_sockets "$1" 1)
    udev=$(uevent_sockets "$1" 2)
    ((kernel == $2 && udev == 1)) ||
        fail "$3: flavourd has $kernel socket(s) on the kernel's uevent group and $udev on udevd's, expected $2 and 1"
    note "ok: $3: flavourd hears the kernel's group on $kernel socket(s), udevd's on $udev"
}

# no_request NAME: events flavourd has no request for (no standing request covers these VFs):
# the VFs' `add`, the `bind` of a shell loop's driver_override + bind, and the `unbind` +
# `remove` of taking them away; flavourd's CPU for each, a VF.
no_request() {
    local name=$1 cpu0 cpu1 cpu2 cpu3 vf
    cpu0=$(settled_cpu_ms)
    create_vfs
    cpu1=$(settled_cpu_ms)
    all_vfs
    for vf in "${vfs[@]}"; do
        echo "$DRIVER" >"$SYSFS_PCI/$vf/driver_override"
        echo "$vf" >"/sys/bus/pci/drivers/$DRIVER/bind"
    done
    cpu2=$(settled_cpu_ms)
    no_vfs
    cpu3=$(settled_cpu_ms)
    awk -v n="$name" -v k="$TOTAL" -v a="$cpu0" -v b="$cpu1" -v c="$cpu2" -v d="$cpu3" 'BEGIN {
        printf "BENCH %-10s %5d VFs no request covers: flavourd CPU %.2f ms an add, %.2f ms a bind, %.2f ms an unbind + remove\n", n, k, (b - a) / k, (c - b) / k, (d - c) / k
    }'
}
# Where udevd puts ACTION= in the messages it sends: flavourd's socket filter
# (UeventActionFilter) drops the bind and unbind echoes in the kernel only when it is the first
# property after the header, or the second after UDEV_DATABASE_VERSION=1. A synthetic `bind` on
# the first PF, heard on udevd's group: its first two properties.
udevd_first_properties() {
    python3 - "$SYSFS_PCI/${pfs[0]}" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 15)
s.bind((0, 2))
s.settimeout(10)
with open(sys.argv[1] + "/uevent", "w") as f:
    f.write("bind")
while True:
    m = s.recv(65536)
    if m[:8] != b"libudev\0":
        continue
    off = struct.unpack_from("=I", m, 16)[0]
    props = m[off:].split(b"\0")
    if b"SUBSYSTEM=pci" in props and b"ACTION=bind" in props:
        print(" ".join(p.decode() for p in props[:2]))
        break
PY
}
note "udevd's first properties in its messages: $(udevd_first_properties 2>&1 || echo 'none heard')"

rule_masked yes
[[ "$(jq '.standing_requests | length' /run/driver-flavour/status.json)" == 0 ]] ||
    fail "standing requests before the scenario made any: $(jq -c .standing_requests /run/driver-flavour/status.json)"
expect_kernel_socket "$pid" 0 "no standing request"
no_request no-request
rule_masked no

# (2) flavourd through a standing request covering every VF the PFs can have (address globs:
# a QEMU NVMe VF has its PF's modalias, so a modalias selector would take the PF too). VFs sit at
# devfn 1..127 of the PF's bus (sriov_offset 1, stride 1).
standing_run() {
    local name=$1 pf bus mark cpu_before probes_before start created_us settle_pid settled_file=/run/flavour-scale-settled
    : >"$CONF"
    for pf in "${pfs[@]}"; do
        bus=${pf%:*}
        printf 'request vfio %s:00.[1-7]\nrequest vfio %s:0[1-9a-f].*\n' "$bus" "$bus" >>"$CONF"
    done
    reload_daemon
    for pf in "${pfs[@]}"; do
        [[ "$(cat "$SYSFS_PCI/$pf/sriov_drivers_autoprobe")" == 0 ]] || fail "flavourd left $pf's autoprobe on although every VF is requested"
    done
    [[ "$name" == standing-strace ]] || expect_kernel_socket "$pid" 1 "$name: standing requests loaded"
    udevadm settle --timeout=600 || true
    mark=$(journal_mark)
    cpu_before=$(proc_cpu_ms "$pid")
    probes_before=$(probes)
    mapfile -t cg_before < <(cpu_by_cgroup)
    mapfile -t detail_before < <(proc_detail "$pid")
    start=$(now_us)
    create_vfs
    created_us=$(($(now_us) - start))
    # How far the binds run ahead of udevd: the moment udevd has processed every uevent sent so
    # far (udevadm settle compares its last SEQNUM with the kernel's), against the last bind.
    ( udevadm settle --timeout=600 || true; now_us >"$settled_file" ) &
    settle_pid=$!
    flavourd_run "$name" "$start" "$mark" "$pid" "$probes_before" "$cpu_before" "$floor_us" "the floor"
    wait "$settle_pid"
    awk -v n="$name" -v b="$run_us" -v c="$created_us" -v s="$(($(<"$settled_file") - start))" -v src="$(jq -r .source /run/driver-flavour/status.json)" 'BEGIN {
        printf "BENCH %-10s the kernel done creating VFs %.1f ms, last bind %.1f ms, udevd'"'"'s queue empty %.1f ms after the first sriov_numvfs write (source %s)\n", n, c / 1000, b / 1000, s / 1000, src
    }'
    # The binds held until the PFs were done creating VFs (flavourd(8), "SR-IOV"): how many
    # releases, how many requests, and the longest any waited.
    flavourd_entries "$mark" | jq -rs --arg n "$name" '[.[] | select((.MESSAGE // "") | startswith("Held VF requests released"))] |
        "BENCH \($n | . + " " * ([10 - length, 0] | max)) held for VF creations: \(length) release(s), \(map(.REQUESTS | tonumber) | add // 0) requests, the longest held \(map(.HELD_MS | tonumber) | max // 0) ms"'
    rm -f "$CONF"
    no_vfs
    reload_daemon
    [[ "$name" == standing-strace ]] || expect_kernel_socket "$pid" 0 "$name: standing requests gone"
    udevadm settle --timeout=600 || true
}
standing_run standing

# (3) flavourd through synthetic requests, VFs made beforehand with autoprobe off.
for pf in "${pfs[@]}"; do echo 0 >"$SYSFS_PCI/$pf/sriov_drivers_autoprobe"; done
create_vfs
all_vfs
udevadm settle --timeout=600 || true
mark=$(journal_mark)
cpu_before=$(proc_cpu_ms "$pid")
probes_before=$(probes)
mapfile -t cg_before < <(cpu_by_cgroup)
mapfile -t detail_before < <(proc_detail "$pid")
start=$(now_us)
for vf in "${vfs[@]}"; do synth_request "$vf" vfio; done
flavourd_run synthetic "$start" "$mark" "$pid" "$probes_before" "$cpu_before" "$raw_us" "the raw loop"
no_vfs
udevadm settle --timeout=600 || true

# (4) The standing run again with driverctl's udev rule masked.
if have_driverctl_rule; then
    rule_masked yes
    standing_run standing-masked
fi

# (5) Where flavourd's CPU goes on this kernel: the masked standing run once more under
# `strace -c -f` (slow: not timed), its syscalls a VF, by count. Up to 256 VFs only: under TCG
# every traced syscall stops the daemon twice, and at 1,000 VFs the run took over 15 minutes.
if command -v strace >/dev/null && ((TOTAL <= 256)); then
    trace=$(mktemp)
    strace -c -f -q -S calls -o "$trace" -p "$pid" &
    strace_pid=$!
    nap 1
    standing_run standing-strace >/dev/null
    kill -INT "$strace_pid"
    wait "$strace_pid" || true
    awk -v k="$TOTAL" '$NF != "total" && $NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && n < 14 {
            calls = $4; name = $NF; n++
            line = line sprintf("%s%s %.1f", n > 1 ? ", " : "", name, calls / k)
        }
        $NF == "total" { total = $4 }
        END { printf "BENCH strace     flavourd syscalls a VF (most first): %s; %.0f in all\n", line, total / k }' "$trace"
    rm -f "$trace"
fi

# (6) The kernel source (flavourd --source kernel, as when udevd does not run): flavourd hears
# each VF's `add` as the kernel sends it, inside two windows udevd's delay hides: the driver
# core's probe attempt shows a transient `driver` link (drivers/base/dd.c, really_probe), and
# `add` comes before the PCI core has finished adding the VF (drivers/pci/bus.c,
# pci_bus_add_device), when a bind is ENODEV. Every VF must still end bound, with one outcome.
rule_masked yes
daemon_options --source kernel
pid=$(systemctl show -p MainPID --value "$FLAVOURD")
for pf in "${pfs[@]}"; do echo 0 >"$SYSFS_PCI/$pf/sriov_drivers_autoprobe"; done
no_request no-req-kern
standing_run standing-kernel
daemon_options

# (7) The standing run with driverctl's rule installed, on a host whose cgroup cpu controller is
# on in system.slice: containerd's and Docker's units (Delegate=yes) turn it on, the guest's
# systemd leaves it off. With it on, udevd's rule programs share the weight of udevd's one
# cgroup, instead of each competing as a task of its own with the writer of sriov_numvfs (here
# flavour-vmtest.service, weighted like every unit). flavourd's unit sets no weight either way.
rule_masked no
run systemctl set-property --runtime flavour-vmtest.service CPUWeight=100 || fail "cannot set CPUWeight on the scenario's unit"
grep -qw cpu /sys/fs/cgroup/system.slice/cgroup.subtree_control ||
    fail "the cpu controller is not on in system.slice: $(cat /sys/fs/cgroup/system.slice/cgroup.subtree_control)"
note "cpu controller on in system.slice: $(cat /sys/fs/cgroup/system.slice/cgroup.subtree_control)"
pid=$(systemctl show -p MainPID --value "$FLAVOURD")
standing_run standing-cpu
