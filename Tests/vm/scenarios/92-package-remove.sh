#!/usr/bin/env bash
# vm-profile: packages
# `apt-get remove driver-flavour driver-flavour-dkms` stops flavourd (dh_installsystemd's prerm)
# and leaves every device where it was: the held devices keep their drivers and
# driver_override. The configuration stays (conffiles and flavourctl's file: remove is not
# purge); the unit, the udev rules and the DKMS module go (dkms status is empty).
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

[[ "$(package_state driver-flavour)" == "install ok installed" ]] || fail "driver-flavour is $(package_state driver-flavour)"
vnet=$(find_dev "${VIRTIO_NET_ID[@]}")
e1000e=$(find_dev "${E1000E_ID[@]}")
# Run alone (--only package-remove), nothing holds the devices yet.
if ! on_driver "$vnet" vfio-pci || [[ ! -e "$PERSISTED" ]]; then
    hold_devices
fi
before=$(device_states "$vnet" "$e1000e")
run modprobe driver_flavour || fail "modprobe driver_flavour exited $?"

run apt-get remove -y -q -o Dpkg::Use-Pty=0 driver-flavour driver-flavour-dkms || fail "apt-get remove exited $?"
for pkg in driver-flavour driver-flavour-dkms; do
    [[ "$(package_state "$pkg")" != "install ok installed" ]] || fail "$pkg is still installed"
done
note "ok: driver-flavour is '$(package_state driver-flavour)', driver-flavour-dkms '$(package_state driver-flavour-dkms)'"
expect_no_flavourd
expect_states "$before" "$vnet" "$e1000e"

for file in "$CONF_DIR/00-example.conf" "$HOLD_CONF" "$PERSISTED"; do
    [[ -e "$file" ]] || fail "remove (not purge) deleted $file"
done
note "ok: the configuration is kept"
for file in /lib/systemd/system/flavourd.service /lib/udev/rules.d/70-driver-flavour.rules /usr/sbin/flavourd; do
    [[ ! -e "$file" ]] || fail "$file is still there"
done
[[ -z "$(dkms status driver-flavour)" ]] || fail "dkms status still lists: $(dkms status driver-flavour)"
[[ -z "$(find /lib/modules/"$(uname -r)" -name 'driver_flavour.ko*')" ]] || fail "the DKMS module file is still there"
note "ok: unit, rules, binaries and the DKMS module gone"
