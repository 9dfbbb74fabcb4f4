#!/usr/bin/env bash
# vm-profile: late-mount
# A boot with a mount that waits for udev's coldplug trigger (scripts/vm/profiles/late-mount.sh:
# an fstab mount on a SATA disk whose driver, ahci, the initramfs does not load) reaches
# multi-user with the mount up and flavourd running. With flavourd ordered after
# local-fs.target and before systemd-udev-trigger.service, this boot deadlocked and fell into
# emergency mode (the guest's emergency.service drop-in reports that as a failed boot).
# And the standing request for the e1000e, whose driver the initramfs does not load either, is
# applied before that driver can probe: flavourd holds the device (driver_override) before the
# trigger, which then loads e1000e, and e1000e never takes it; flavourd-settle.service, which
# libvirtd and friends wait for, ends once it is bound.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

findmnt -n /srv/late >/dev/null || fail "/srv/late is not mounted"
source_dev=$(findmnt -n -o SOURCE /srv/late)
note "ok: /srv/late is mounted from $source_dev ($(findmnt -n -o FSTYPE /srv/late))"
path=$(readlink -f "/sys/class/block/${source_dev#/dev/}")
[[ "$path" == */ata* ]] || fail "$source_dev is not the SATA disk ($path)"
expect_daemon
note "ok: flavourd is $(daemon_state)"
state=$(systemctl is-system-running || true)
[[ "$state" == running || "$state" == starting ]] || {
    systemctl --failed --no-legend --plain
    fail "the system is '$state'"
}
note "ok: system state $state"

# Nothing in flavourd.service's ordering waits for a mount or for the trigger.
after=$(systemctl show -p After --value "$FLAVOURD")
note "flavourd.service After=$after"
for unit in local-fs.target local-fs-pre.target systemd-tmpfiles-setup.service systemd-udev-trigger.service; do
    [[ " $after " != *" $unit "* ]] || fail "flavourd.service is ordered after $unit"
done
mounts=$(systemctl show -p RequiresMountsFor --value "$FLAVOURD")
note "flavourd.service RequiresMountsFor=$mounts"
[[ " $mounts " != *" /tmp "* && " $mounts " != *" /var/tmp "* ]] || fail "flavourd.service requires the mounts of /tmp and /var/tmp"

e1000e=$(find_dev "${E1000E_ID[@]}")
[[ "$(systemctl show -p ActiveState --value flavourd-settle.service)/$(systemctl show -p Result --value flavourd-settle.service)" == active/success ]] ||
    fail "flavourd-settle.service is $(systemctl show -p ActiveState --value flavourd-settle.service)/$(systemctl show -p Result --value flavourd-settle.service)"
journalctl -b -q --no-pager -u flavourd-settle.service -o cat | tail -n3
expect_module_driver "$e1000e" flavour_test_vfio_pci
expect_module e1000e
flavourd_entries "" MESSAGE="Device held for its standing request" PCI_SLOT_NAME="$e1000e" | grep -q . ||
    fail "flavourd did not hold $e1000e for its standing request at start"
probes=$(dmesg | grep -E "e1000e $e1000e" || true)
[[ -z "$probes" ]] || fail "e1000e probed $e1000e before flavourd bound it: $(head -n1 <<<"$probes")"
note "ok: $e1000e held at start and bound to flavour-test-vfio-pci; e1000e, loaded by the trigger, never probed it"
settled=$(systemctl show -p ExecMainExitTimestampMonotonic --value flavourd-settle.service)
bound=$(flavourd_entries "" MESSAGE_ID="$MSG_BOUND" PCI_SLOT_NAME="$e1000e" | jq -r '.__MONOTONIC_TIMESTAMP' | head -n1)
((bound <= settled)) || fail "flavourd-settle.service ended (${settled} us) before $e1000e was bound (${bound} us)"
note "ok: flavourd-settle.service ended after the standing request was applied"
note "BENCH boot-late-mount: $(boot_times)"
systemd-analyze critical-chain --no-pager multi-user.target 2>/dev/null | head -n 12 || true
