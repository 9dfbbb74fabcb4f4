#!/usr/bin/env bash
# Side by side, flavourd against the tool it replaces: the same 32 NVMe VFs bound to vfio-pci by
#   (a) Debian's driverctl, `driverctl set-override VF vfio-pci` per VF;
#   (b) flavourd, 32 synthetic requests, from the first request to the last verified bind (the
#       time of flavourd's last outcome entry);
#   (c) a raw shell loop of the kernel writes (driver_override, bind, check the link): the floor.
# Prints `BENCH ` lines with the totals, per-VF figures and ratios. Passes when the three runs
# complete with every VF on vfio-pci; the targets (flavourd >= 25x faster than driverctl,
# within 1.5x of the raw loop) are reported, not enforced.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

NUM_VFS=32
DRIVER=vfio-pci

pf=$(find_dev "${NVME_ID[@]}")
pfdir="$SYSFS_PCI/$pf"
cleanup() {
    kill "$never_pid" 2>/dev/null
    set_numvfs "$pf" 0
    echo 1 >"$pfdir/sriov_drivers_autoprobe"
    rm -f /etc/driverctl.d/pci-*
}
trap cleanup EXIT

# A descriptor that never has data: `read -t` on it is a sleep without a fork.
# (Its sleep would hold the scenario's output pipe open: killed on exit.)
exec {never}< <(exec sleep 100000 2>/dev/null)
never_pid=$!
nap() { read -r -t "$1" -u "$never" _ || true; }

# now_us: the realtime clock in microseconds, without forking.
now_us() { printf '%s\n' "${EPOCHREALTIME/./}"; }

# reset: no VFs, then 32 fresh ones with autoprobe off (no driver, no override, nothing saved).
reset() {
    set_numvfs "$pf" 0
    rm -f /etc/driverctl.d/pci-*
    echo 0 >"$pfdir/sriov_drivers_autoprobe"
    set_numvfs "$pf" "$NUM_VFS"
    mapfile -t vfs < <(vf_addresses "$pf")
    ((${#vfs[@]} == NUM_VFS)) || fail "$pf has ${#vfs[@]} VFs, expected $NUM_VFS"
    local vf
    for vf in "${vfs[@]}"; do
        [[ ! -L "$SYSFS_PCI/$vf/driver" && "$(override_of "$vf")" == "(null)" ]] ||
            fail "VF $vf starts on '$(driver_of "$vf")', driver_override $(override_of "$vf")"
    done
    udevadm settle --timeout=30 || true
}

# wait_all SECONDS [INTERVAL]: until every VF's driver link names $DRIVER; polls every INTERVAL
# seconds (default 5 ms).
wait_all() {
    local deadline=$(($(now_us) + $1 * 1000000)) pending=("${vfs[@]}") left vf interval=${2:-0.005}
    while ((${#pending[@]})); do
        left=()
        for vf in "${pending[@]}"; do on_driver "$vf" "$DRIVER" || left+=("$vf"); done
        pending=("${left[@]}")
        ((${#pending[@]})) || break
        (($(now_us) < deadline)) || fail "${#pending[@]} VFs not on $DRIVER after $1 s: ${pending[*]:0:4}"
        nap "$interval"
    done
}

# verify: every VF on $DRIVER.
verify() {
    local vf
    for vf in "${vfs[@]}"; do on_driver "$vf" "$DRIVER" || fail "$1: VF $vf on '$(driver_of "$vf")'"; done
}

# proc_ticks PID: the process's user and system CPU time in clock ticks (proc(5) stat fields
# 14 and 15, counted after the command name's closing parenthesis).
proc_ticks() {
    local stat
    read -r stat <"/proc/$1/stat"
    stat=${stat##*) }
    awk '{ print $12, $13 }' <<<"$stat"
}

# report NAME MICROSECONDS
report() {
    awk -v n="$1" -v us="$2" -v k="$NUM_VFS" \
        'BEGIN { printf "BENCH %-9s %4d VFs: total %9.1f ms, %7.2f ms a VF\n", n, k, us / 1000, us / 1000 / k }'
}

expect_daemon
grep -q '^vfio_pci ' /proc/modules || run modprobe vfio-pci || fail "cannot load vfio-pci"
note "driverctl $(dpkg-query -W -f='${Version}' driverctl 2>/dev/null || echo '?'), flavourd pid $(systemctl show -p MainPID --value "$FLAVOURD")"

# (a) driverctl
reset
start=$(now_us)
for vf in "${vfs[@]}"; do
    driverctl set-override "$vf" "$DRIVER" || fail "driverctl set-override $vf $DRIVER exited $?"
done
verify driverctl
driverctl_us=$(($(now_us) - start))
report driverctl "$driverctl_us"
rc=0
driverctl unset-override "${vfs[0]}" 2>/dev/null || rc=$?
note "(driverctl unset-override ${vfs[0]} with sriov_drivers_autoprobe=0 exits $rc; VF now on '$(driver_of "${vfs[0]}")', override $(override_of "${vfs[0]}"))"

# (b) flavourd
reset
cursor=$(journal_mark)
cpu_before=$(systemctl show -p CPUUsageNSec --value "$FLAVOURD")
pid=$(systemctl show -p MainPID --value "$FLAVOURD")
ticks_before=$(proc_ticks "$pid")
start=$(now_us)
for vf in "${vfs[@]}"; do synth_request "$vf" vfio; done
# The end is the last verified bind, as flavourd's outcome entry stamps it; the poll that sees
# all 32 on vfio-pci is slow on purpose (50 ms), so that it takes no CPU from the daemon in a
# two-CPU guest (the raw loop and driverctl have no poller beside them).
wait_all 60 0.05
polled_us=$(($(now_us) - start))
wait_until 10 bash -c "(( \$(journalctl -q -o cat -u $FLAVOURD --since='$cursor' MESSAGE_ID=$MSG_BOUND | wc -l) >= $NUM_VFS ))" ||
    fail "flavourd logged fewer than $NUM_VFS 'bound' outcomes"
last_us=$(flavourd_entries "$cursor" MESSAGE_ID="$MSG_BOUND" | jq -s 'map(.__REALTIME_TIMESTAMP | tonumber) | max')
[[ "$last_us" =~ ^[0-9]+$ ]] && ((last_us > start && last_us <= $(now_us))) ||
    fail "the last 'bound' entry's time ($last_us) is not after the first request ($start)"
flavourd_us=$((last_us - start))
report flavourd "$flavourd_us"
note "(flavourd: the poller saw all $NUM_VFS on $DRIVER after $((polled_us / 1000)) ms; the last outcome was logged at $((flavourd_us / 1000)) ms)"
cpu_after=$(systemctl show -p CPUUsageNSec --value "$FLAVOURD")
if [[ "$cpu_before" =~ ^[0-9]+$ && "$cpu_after" =~ ^[0-9]+$ ]]; then
    awk -v ns="$((cpu_after - cpu_before))" -v k="$NUM_VFS" \
        'BEGIN { printf "BENCH flavourd CPU for the %d requests: %.1f ms, %.2f ms a VF (user + system, from the request to the outcome logged)\n", k, ns / 1e6, ns / 1e6 / k }'
else
    note "flavourd's CPU time is not accounted (CPUUsageNSec: $cpu_after)"
fi
read -r user_ticks system_ticks < <(paste -d' ' <(printf '%s\n' "$ticks_before") <(proc_ticks "$pid") |
    awk '{ print $3 - $1, $4 - $2 }')
hz=$(getconf CLK_TCK)
awk -v u="$user_ticks" -v s="$system_ticks" -v hz="$hz" -v k="$NUM_VFS" \
    'BEGIN { printf "BENCH flavourd CPU split: user %.0f ms, system %.0f ms (%.2f / %.2f ms a VF; system includes the drivers'"'"' probes)\n", u * 1000 / hz, s * 1000 / hz, u * 1000 / hz / k, s * 1000 / hz / k }'
note "flavourd logged $NUM_VFS bound outcomes"

# (c) the raw loop: the kernel writes only
reset
start=$(now_us)
for vf in "${vfs[@]}"; do
    echo "$DRIVER" >"$SYSFS_PCI/$vf/driver_override"
    echo "$vf" >"/sys/bus/pci/drivers/$DRIVER/bind"
    on_driver "$vf" "$DRIVER" || fail "raw loop: $vf not on $DRIVER after bind"
done
raw_us=$(($(now_us) - start))
verify raw
report raw "$raw_us"

awk -v d="$driverctl_us" -v f="$flavourd_us" -v r="$raw_us" 'BEGIN {
    printf "BENCH ratio driverctl/flavourd: %.1fx (target >= 25x: %s)\n", d / f, (d / f >= 25) ? "met" : "missed"
    printf "BENCH ratio flavourd/raw:       %.2fx (target <= 1.5x: %s)\n", f / r, (f / r <= 1.5) ? "met" : "missed"
}'
