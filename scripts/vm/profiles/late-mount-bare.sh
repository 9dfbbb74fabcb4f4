# shellcheck shell=bash
# The late-mount guest without flavourd (its units masked on the kernel command line): the
# boot the late-mount guest's time is compared with. One boot, about as long as late-mount's.
# shellcheck source=scripts/vm/profiles/late-mount.sh
source "$(dirname "${BASH_SOURCE[0]}")/late-mount.sh"
PROFILE_APPEND="systemd.mask=flavourd.service systemd.mask=flavourd-settle.service"
