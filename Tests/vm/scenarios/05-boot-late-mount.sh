#!/usr/bin/env bash
# vm-profile: late-mount
# A boot with a mount that waits for udev's coldplug trigger (scripts/vm/profiles/late-mount.sh:
# an fstab mount on a SATA disk whose driver, ahci, the initramfs does not load) reaches
# multi-user with the mount up and flavourd running. With flavourd ordered after
# local-fs.target and before systemd-udev-trigger.service, this boot deadlocked and fell into
# emergency mode (the guest's emergency.service drop-in reports that as a failed boot).
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
note "BENCH boot-late-mount: $(systemd-analyze 2>/dev/null | head -n1)"
