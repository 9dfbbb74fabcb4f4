#!/usr/bin/env bash
# vm-profile: late-mount-bare
# The late-mount guest with flavourd's units masked: it boots to multi-user with the mount up,
# as it did before flavourd was ordered out of the way. Its BENCH line is the boot time the
# late-mount guest's (with flavourd) is compared with (docs/flavourd.8.md).
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

findmnt -n /srv/late >/dev/null || fail "/srv/late is not mounted"
[[ "$(systemctl is-enabled "$FLAVOURD" 2>/dev/null || true)" == masked* ]] || fail "$FLAVOURD is not masked in this guest"
state=$(systemctl is-system-running || true)
[[ "$state" == running || "$state" == starting ]] || fail "the system is '$state'"
note "ok: /srv/late mounted, system state $state, flavourd masked"
note "BENCH boot-late-mount-bare: $(boot_times)"
