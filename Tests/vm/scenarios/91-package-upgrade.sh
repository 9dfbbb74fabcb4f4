#!/usr/bin/env bash
# vm-profile: packages
# Upgrading driver-flavour (apt-get install of VERSION+vmtest1, the same tree built again)
# restarts flavourd (dh_installsystemd: a new main pid) without moving any device: the driver
# links and driver_override of a device held on vfio-pci by a standing request and of one held
# by a persisted request are unchanged, and no bind or unbind uevent reaches either. The new
# flavourd finds both as requested at start (nothing logged for them but, for a request the
# old one left queued, "unchanged"), and still applies the standing request: the virtio-net function, removed and found again by a rescan,
# goes back to vfio-pci.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

EVENTS=$(mktemp)
monitor=
cleanup() {
    [[ -n "$monitor" ]] && kill "$monitor" 2>/dev/null
    rm -f "$EVENTS"
    return 0
}
trap cleanup EXIT

hold_devices
old_version=$(dpkg-query -W -f='${Version}' driver-flavour)
new_deb=$(compgen -G "$DEBS_DIR/driver-flavour_${old_version}+vmtest1_*.deb") || fail "no upgrade package in $DEBS_DIR"
before=$(device_states "$vnet" "$e1000e")
old_pid=$(systemctl show -p MainPID --value "$FLAVOURD")
conf_before=$(cat "$HOLD_CONF" "$PERSISTED" "$CONF_DIR/00-example.conf")
note "flavourd $old_version, pid $old_pid; $new_deb"

stdbuf -oL udevadm monitor --kernel --subsystem-match=pci >"$EVENTS" 2>/dev/null &
monitor=$!
sleep 1
mark=$(journal_mark)
out=$(apt-get install -y -q -o Dpkg::Use-Pty=0 "$new_deb" 2>&1) || { printf '%s\n' "$out"; fail "apt-get install $new_deb exited $?"; }
printf '%s\n' "$out"
# The maintainer scripts' systemctl calls all succeed: flavourd-settle.service, restarted in
# the same call as flavourd (systemd runs its restart first, while the old flavourd is still
# there), waits for the new flavourd instead of failing on the old one's status.json.
[[ "$out" != *"Could not execute systemctl"* ]] || fail "a systemctl call of the upgrade failed"
[[ "$(systemctl show -p Result --value flavourd-settle.service)" == success ]] ||
    fail "flavourd-settle.service's result is $(systemctl show -p Result --value flavourd-settle.service) after the upgrade"
new_version=$(dpkg-query -W -f='${Version}' driver-flavour)
[[ "$new_version" == "$old_version+vmtest1" ]] || fail "driver-flavour is $new_version after the upgrade"

expect_daemon
new_pid=$(systemctl show -p MainPID --value "$FLAVOURD")
[[ "$new_pid" != "$old_pid" ]] || fail "flavourd still has pid $old_pid: the upgrade did not restart it"
note "ok: driver-flavour $new_version, flavourd restarted (pid $old_pid -> $new_pid)"

# The new flavourd finds both as their requests ask. It queues nothing for a device already
# as requested; a request the old one had queued and not answered (its reload's, say) is taken
# over and ends `unchanged`. Either way nothing else may be logged for them.
run flavourctl settle --timeout 60 || fail "flavourctl settle exited $? after the upgrade"
for addr in "$vnet" "$e1000e"; do
    outcomes=$(flavourd_entries "$mark" PCI_SLOT_NAME="$addr" _PID="$new_pid" |
        jq -c 'select(.MESSAGE_ID != null) | {MESSAGE, MESSAGE_ID, REQUEST_ORIGIN}')
    [[ -n "$outcomes" ]] && note "the upgraded flavourd on $addr: $outcomes"
    others=$(jq -c --arg id "$MSG_UNCHANGED" 'select(.MESSAGE_ID != $id)' <<<"$outcomes")
    [[ -z "$others" ]] || fail "the upgraded flavourd did more than find $addr as requested: $others"
done
note "ok: the upgraded flavourd found both devices as requested"
udevadm settle --timeout=30 || true
# A marker event (a change uevent without a request, which flavourd ignores): once the monitor
# has it, it has every event before it.
run sh -c "echo change > $SYSFS_PCI/$vnet/uevent"
wait_until 10 grep -qE "^KERNEL\[.*\] +change +/devices/.*/$vnet \(pci\)" "$EVENTS" ||
    fail "the udev monitor did not see the marker uevent"
kill "$monitor"
monitor=
# Lines like: KERNEL[12.345678] unbind   /devices/pci0000:00/0000:00:03.0 (pci)
moves=$(grep -E "^KERNEL\[.*\] +(bind|unbind) +/devices/.*/($vnet|$e1000e) \(pci\)" "$EVENTS" || true)
[[ -z "$moves" ]] || fail "the upgrade moved a device: ${moves//$'\n'/ }"
expect_states "$before" "$vnet" "$e1000e"
[[ "$(cat "$HOLD_CONF" "$PERSISTED" "$CONF_DIR/00-example.conf")" == "$conf_before" ]] || fail "the upgrade changed the configuration"
note "ok: no bind or unbind during the upgrade; configuration untouched"

# The new daemon applies the standing request to the device when it appears again.
run sh -c "echo 1 > $SYSFS_PCI/$vnet/remove"
run sh -c "echo 1 > /sys/bus/pci/rescan"
wait_until 30 on_driver "$vnet" vfio-pci ||
    fail "$vnet, rescanned, is on '$(driver_of "$vnet")': the upgraded flavourd did not apply its standing request"
entry=$(wait_entry 30 "$mark" MESSAGE_ID="$MSG_BOUND" PCI_SLOT_NAME="$vnet" _PID="$new_pid")
expect_fields "$entry" REQUEST_ORIGIN=hotplug DRIVER=vfio-pci
