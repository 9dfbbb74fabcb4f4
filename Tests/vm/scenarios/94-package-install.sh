#!/usr/bin/env bash
# vm-profile: packages
# Installing the packages on a running system (`apt-get install ./driver-flavour_*.deb
# ./driver-flavour-dkms_*.deb`, as the README says): the postinst enables and starts flavourd,
# and the commented example configuration is back. The guest has no kernel headers, so DKMS
# says it skipped the build, and the install still succeeds. Devices held by a previous install
# stay where they are: the new flavourd has no request for them.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

if [[ "$(package_state driver-flavour)" != not-installed ]]; then
    run apt-get purge -y -q -o Dpkg::Use-Pty=0 driver-flavour driver-flavour-dkms || fail "apt-get purge exited $?"
fi
vnet=$(find_dev "${VIRTIO_NET_ID[@]}")
e1000e=$(find_dev "${E1000E_ID[@]}")
before=$(device_states "$vnet" "$e1000e")
version=$(find "$DEBS_DIR" -name 'driver-flavour-dkms_*.deb' -printf '%f\n' | cut -d_ -f2)
debs=("$DEBS_DIR/driver-flavour_${version}_"*.deb "$DEBS_DIR/driver-flavour-dkms_${version}_all.deb")
out=$(apt-get install -y -q -o Dpkg::Use-Pty=0 "${debs[@]}" 2>&1) || { printf '%s\n' "$out"; fail "apt-get install exited $?"; }
printf '%s\n' "$out"
grep -q 'kernel headers for this kernel do not seem to be installed' <<<"$out" ||
    fail "DKMS did not say it skipped the build for lack of headers"
[[ "$(package_state driver-flavour)" == "install ok installed" ]] || fail "driver-flavour is $(package_state driver-flavour)"
expect_daemon
[[ "$(systemctl is-enabled "$FLAVOURD")" == enabled ]] || fail "$FLAVOURD is $(systemctl is-enabled "$FLAVOURD") after the install"
[[ -e "$CONF_DIR/00-example.conf" ]] || fail "the example configuration was not installed"
note "ok: the postinst enabled and started flavourd; the example configuration is back"
expect_states "$before" "$vnet" "$e1000e"
