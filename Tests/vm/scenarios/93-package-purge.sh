#!/usr/bin/env bash
# vm-profile: packages
# `apt-get purge driver-flavour driver-flavour-dkms` removes the configuration, flavourctl's
# persisted requests included, the run directory and the unit's enablement; the held devices
# still stay where they were.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

vnet=$(find_dev "${VIRTIO_NET_ID[@]}")
e1000e=$(find_dev "${E1000E_ID[@]}")
# Run alone (--only package-purge), the packages are still installed: hold devices first.
[[ "$(package_state driver-flavour)" != "install ok installed" ]] || hold_devices
before=$(device_states "$vnet" "$e1000e")
[[ -d /etc/driver-flavour.d && -d /run/driver-flavour ]] || fail "nothing to purge: /etc/driver-flavour.d or /run/driver-flavour is missing"
run ls /etc/driver-flavour.d /run/driver-flavour

run apt-get purge -y -q -o Dpkg::Use-Pty=0 driver-flavour driver-flavour-dkms || fail "apt-get purge exited $?"
for pkg in driver-flavour driver-flavour-dkms; do
    [[ "$(package_state "$pkg")" == not-installed ]] || fail "$pkg is '$(package_state "$pkg")' after purge"
done
note "ok: both packages purged"
expect_no_flavourd
[[ ! -e /etc/driver-flavour.d ]] || fail "/etc/driver-flavour.d is still there: $(find /etc/driver-flavour.d -mindepth 1 -printf '%f ')"
[[ ! -e /run/driver-flavour ]] || fail "/run/driver-flavour is still there"
[[ ! -e /etc/systemd/system/sysinit.target.wants/flavourd.service ]] || fail "flavourd.service is still enabled"
note "ok: /etc/driver-flavour.d, /run/driver-flavour and the unit's enablement are gone"
expect_states "$before" "$vnet" "$e1000e"
