#!/usr/bin/env bash
# What flavourd publishes for fleets, on the installed unit and the real kernel:
# (1) node_exporter's and NFD's directories made after flavourd started stay read-only in its
#     sandbox (systemd binds a '-' ReadWritePaths= entry only if it exists at start): flavourd
#     says so once, with the fix, and a restart takes them; the unit gained no mount ordering;
# (2) after a bind (virtio_vfio_pci), a fallback (the test variant refuses e1000e, vfio-pci
#     takes it), a failure (a flavour whose only driver refuses) and a rejection, the metrics
#     file parses with prometheus_client's parser (prom-parse) and its outcome counters are the
#     journal's outcomes of this flavourd, by kind and flavour; the gauges say where devices are;
# (3) the feature file's labels are what `flavourctl list --json` says of the devices in VFIO
#     mode (the kernel's vfio-dev/vfioN entry, shown here for vfio-pci and a variant), and again
#     after the devices are reverted;
# (4) a clean stop removes the metrics file and keeps the feature file.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

METRICS_DIR=/var/lib/prometheus/node-exporter
LABELS_DIR=/etc/kubernetes/node-feature-discovery/features.d
PROM=$METRICS_DIR/driver_flavour.prom
FEATURES=$LABELS_DIR/driver-flavour
CONF=$CONF_DIR/60-fleet.conf
FAIL_PROBE=/sys/module/flavour_test_vfio_pci/parameters/fail_probe

vnet=$(find_dev "${VIRTIO_NET_ID[@]}")
e1000e=$(find_dev "${E1000E_ID[@]}")
cleanup() {
    [[ -w "$FAIL_PROBE" ]] && echo 0 >"$FAIL_PROBE"
    rm -f "$CONF"
    systemctl start "$FLAVOURD" || true
    systemctl reload "$FLAVOURD" || true
    flavourctl apply "$vnet" none >/dev/null 2>&1 || true
    flavourctl apply "$e1000e" none >/dev/null 2>&1 || true
    rm -rf /var/lib/prometheus /etc/kubernetes
}
trap cleanup EXIT

expect_daemon
[[ "$(driver_of "$vnet")" == virtio-pci ]] || apply "$vnet" none
[[ "$(driver_of "$e1000e")" == e1000e ]] || apply "$e1000e" none
grep -q '^flavour_test_vfio_pci ' /proc/modules || run modprobe flavour_test_vfio_pci || fail "cannot load flavour_test_vfio_pci"
printf 'flavour failing - flavour_test_vfio_pci\n' >"$CONF"
reload_daemon

# (1) Made after the start: read-only in flavourd's mount namespace.
requires=$(systemctl show -p RequiresMountsFor --value "$FLAVOURD")
note "RequiresMountsFor=$requires"
[[ "$requires" != *prometheus* && "$requires" != *kubernetes* ]] || fail "ReadWritePaths= gave the unit mount ordering: $requires"
after=$(systemctl show -p After --value "$FLAVOURD")
written=$(sed -n 's/^After=//p' "$(systemctl show -p FragmentPath --value "$FLAVOURD")" | tr '\n' ' ')
note "After=$after (the unit file says: $written)"
# What would make flavourd wait for /var, unless the unit file's own After= says it.
for unit in local-fs.target systemd-remount-fs.service var.mount var-lib.mount var-lib-prometheus.mount etc-kubernetes.mount; do
    [[ " $written " != *" $unit "* ]] || continue
    [[ " $after " != *" $unit "* ]] || fail "flavourd.service is ordered after $unit: it would wait for /var"
done
# The mark comes first: a write still pending from the reload above (writes are a second
# apart) may land as soon as the directories exist, and it is the one that logs.
mark=$(journal_mark)
rm -rf "$METRICS_DIR" "$LABELS_DIR"
mkdir -p "$METRICS_DIR" "$LABELS_DIR"
synth_request "$vnet" nosuch  # a change: a write is due
entry=$(wait_entry 10 "$mark" MESSAGE="Cannot publish file for fleets")
jq -c '{MESSAGE, PATH, ERRNO, FIX}' <<<"$entry"
expect_fields "$entry" ERRNO=30 FIX=?
[[ ! -e "$PROM" && ! -e "$FEATURES" ]] || fail "flavourd wrote into a directory made after it started"
run systemctl restart "$FLAVOURD"
expect_daemon
pid=$(systemctl show -p MainPID --value "$FLAVOURD")
wait_until 10 test -s "$PROM" || fail "no $PROM after the restart"
wait_until 10 test -s "$FEATURES" || fail "no $FEATURES after the restart"
note "ok: the directories made after the start were read-only to flavourd (EROFS, logged once with the fix); after a restart both files are there"

# (2) A bind, a fallback, a failure, a rejection.
echo 0 >"$FAIL_PROBE"
out=$(daemon_set "$vnet" vfio)
[[ "$out" == *": bound, driver virtio_vfio_pci"* ]] || fail "flavourctl set $vnet vfio said: $out"
echo 1 >"$FAIL_PROBE"
out=$(daemon_set "$e1000e" vfio)
[[ "$out" == *": fell-back, driver vfio-pci"* ]] || fail "flavourctl set $e1000e vfio said: $out"
out=$(flavourctl set "$e1000e" failing 2>&1) && fail "flavourctl set $e1000e failing succeeded: $out"
[[ "$out" == *": failed-rolled-back, driver vfio-pci"* ]] || fail "flavourctl set $e1000e failing said: $out"
echo 0 >"$FAIL_PROBE"
uuid=$(new_uuid)
synth_request "$e1000e" gpu "$uuid"
wait_entry 10 "" "SYNTH_UUID=$uuid" >/dev/null

# The journal's outcomes of this flavourd, "kind flavour" a line, a value that names no
# flavour counted as "" (as the metrics do).
kinds='{"3c5e1e0a9d7f4b2a8f61c2d4b7e90a11":"bound","3c5e1e0a9d7f4b2a8f61c2d4b7e90a12":"fell-back","3c5e1e0a9d7f4b2a8f61c2d4b7e90a13":"unchanged","3c5e1e0a9d7f4b2a8f61c2d4b7e90a14":"failed-rolled-back","3c5e1e0a9d7f4b2a8f61c2d4b7e90a15":"failed-not-restored","3c5e1e0a9d7f4b2a8f61c2d4b7e90a16":"reverted","3c5e1e0a9d7f4b2a8f61c2d4b7e90a17":"revert-failed","3c5e1e0a9d7f4b2a8f61c2d4b7e90a18":"rejected","3c5e1e0a9d7f4b2a8f61c2d4b7e90a19":"superseded","3c5e1e0a9d7f4b2a8f61c2d4b7e90a1a":"dropped"}'
journal_counts() {
    journalctl -q -b -o json --no-pager -u "$FLAVOURD" "_PID=$pid" |
        jq -r --argjson kinds "$kinds" 'select(.MESSAGE_ID and $kinds[.MESSAGE_ID])
            | "\($kinds[.MESSAGE_ID]) \(if (.DRIVER_FLAVOUR // "") | IN("vfio", "failing", "none") then .DRIVER_FLAVOUR else "" end)"' |
        sort | uniq -c | awk '{print $2, ($3 == "" ? "-" : $3), $1}'
}
# The metrics file's non-zero outcome counters, in the same form; prom-parse fails the scenario
# if the parser refuses the file.
metrics_counts() {
    "$VMTEST_DIR/prom-parse" "$PROM" >/tmp/fleet-samples.json || fail "prom-parse refused $PROM: $(cat "$PROM")"
    jq -r 'select(.name == "driver_flavour_outcomes_total" and .value > 0)
        | "\(.labels.kind) \(if .labels.flavour == "" then "-" else .labels.flavour end) \(.value | floor)"' \
        /tmp/fleet-samples.json | sort
}
counts_agree() { [[ "$(journal_counts)" == "$(metrics_counts)" && -n "$(journal_counts)" ]]; }
wait_until 10 counts_agree || fail "metrics and journal disagree: journal '$(journal_counts | paste -sd,)', metrics '$(metrics_counts | paste -sd,)'"
note "counters = journal: $(metrics_counts | paste -sd,)"
for kind in "bound vfio" "fell-back vfio" "failed-rolled-back failing" "rejected -"; do
    grep -q "^$kind [1-9]" <(metrics_counts) || fail "no '$kind' outcome counted"
done
grep -E '^driver_flavour_(devices|info|last_outcome|standing)' "$PROM"
sample() { jq -r --arg n "$1" --argjson l "$2" 'select(.name == $n and .labels == $l) | .value' /tmp/fleet-samples.json; }
version=$(dpkg-query -W -f='${Version}' driver-flavour)
[[ "$(sample driver_flavour_info "{\"version\":\"$version\"}")" == 1 ]] || fail "no driver_flavour_info{version=\"$version\"}"
[[ "$(sample driver_flavour_devices '{"flavour":"vfio","driver":"virtio_vfio_pci"}')" == 1 ]] || fail "$vnet is not counted on virtio_vfio_pci"
[[ "$(sample driver_flavour_devices '{"flavour":"vfio","driver":"vfio-pci"}')" == 1 ]] || fail "$e1000e is not counted on vfio-pci"
[[ "$(sample driver_flavour_devices_failed '{"kind":"failed-rolled-back"}')" == 1 ]] || fail "$e1000e's failure is not counted"
[[ "$(sample driver_flavour_devices_stuck '{}')" == 0 ]] || fail "a device counted as stuck"
note "ok: $(wc -l </tmp/fleet-samples.json) samples parsed; version $version, devices and failures as the outcomes left them"

# (3) The labels are what list --json says of the devices in VFIO mode.
for addr in "$vnet" "$e1000e"; do
    vfio=$(ls "$SYSFS_PCI/$addr/vfio-dev" 2>&1 || true)
    note "$addr on $(driver_of "$addr"): vfio-dev/$vfio, /sys/class/vfio-dev/$vfio -> $(readlink "/sys/class/vfio-dev/$vfio" || true)"
done
# shellcheck disable=SC2016 # a jq program
expected_labels() {
    flavourctl list --json | jq -r '[.[] | select(.vfio_mode)] as $v
        | "feature.node.kubernetes.io/driver-flavour.vfio-ready=\(any($v[]; .group_viable == true))",
          ($v | group_by("\(.vendor)_\(.device)")[]
           | "feature.node.kubernetes.io/driver-flavour.vfio-\(.[0].vendor)_\(.[0].device).count=\(length)",
             "feature.node.kubernetes.io/driver-flavour.vfio-\(.[0].vendor)_\(.[0].device).variant=\(any(.[]; .driver != "vfio-pci"))")'
}
labels_agree() { [[ "$(grep -v '^#' "$FEATURES")" == "$(expected_labels)" ]]; }
check_labels() {
    wait_until 10 labels_agree || fail "labels '$(grep -v '^#' "$FEATURES" | paste -sd' ')', list --json says '$(expected_labels | paste -sd' ')'"
    note "ok: labels as list --json has the devices: $(grep -v '^#' "$FEATURES" | paste -sd' ')"
}
[[ "$(flavourctl list --json | jq -r --arg a "$vnet" '.[] | select(.address == $a) | "\(.vfio_mode) \(.vfio_device)"')" == "true vfio"* ]] ||
    fail "list --json does not have $vnet (virtio_vfio_pci) in VFIO mode"
check_labels
grep -qx "feature.node.kubernetes.io/driver-flavour.vfio-1af4_1041.variant=true" "$FEATURES" || fail "virtio-net on virtio_vfio_pci is not a variant"
grep -qx "feature.node.kubernetes.io/driver-flavour.vfio-8086_10d3.variant=false" "$FEATURES" || fail "e1000e on vfio-pci is a variant"
daemon_set "$vnet" none >/dev/null
daemon_set "$e1000e" none >/dev/null
check_labels
! grep -q 'vfio-1af4_1041\|vfio-8086_10d3' "$FEATURES" || fail "reverted devices still labelled"

# (4) A clean stop.
run systemctl stop "$FLAVOURD"
[[ ! -e "$PROM" ]] || fail "$PROM is still there after a clean stop"
[[ -s "$FEATURES" ]] || fail "$FEATURES went at the stop"
ls -A "$METRICS_DIR" "$LABELS_DIR"
run systemctl start "$FLAVOURD"
expect_daemon
wait_until 5 test -s "$PROM" || fail "no $PROM after the start"
note "ok: the metrics file went at the clean stop and came back at the start; the feature file stayed"
