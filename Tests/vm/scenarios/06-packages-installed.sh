#!/usr/bin/env bash
# The guest runs the project as its Debian packages installed it (scripts/vm/build-guest:
# `apt-get install ./driver-flavour_*.deb ./driver-flavour-dkms_*.deb` in a chroot of this root):
#   - both packages installed, same version, every file they list present;
#   - flavourd.service from the package, enabled by its postinst and running;
#   - the example configuration is a conffile and, uncommented, a valid configuration;
#   - driver_flavour is the module DKMS built: `dkms status` says installed for this kernel,
#     modinfo finds it under updates/dkms and nowhere else, and its version is the package's.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

EXAMPLE=$CONF_DIR/00-example.conf
kernel=$(uname -r)

# package_version PACKAGE: the installed version; fails unless installed.
package_version() {
    local status
    status=$(dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null) || fail "package $1 is not installed"
    [[ "$status" == "install ok installed "* ]] || fail "package $1 is '$status', not installed"
    printf '%s\n' "${status##* }"
}

version=$(package_version driver-flavour)
dkms_version=$(package_version driver-flavour-dkms)
[[ "$version" == "$dkms_version" ]] || fail "driver-flavour is $version, driver-flavour-dkms $dkms_version"
note "ok: driver-flavour and driver-flavour-dkms $version installed"
# Every file the packages list is there (dpkg --verify would also checksum 66 MB: 10 s here).
missing=$(dpkg-query -L driver-flavour driver-flavour-dkms | while read -r file; do [[ -e "$file" ]] || echo "$file"; done)
[[ -z "$missing" ]] || fail "files of the packages are missing: ${missing//$'\n'/ }"
note "ok: every file of the packages is there"

expect_daemon
[[ "$(systemctl is-enabled "$FLAVOURD")" == enabled ]] || fail "$FLAVOURD is $(systemctl is-enabled "$FLAVOURD"), not enabled"
fragment=$(systemctl show -p FragmentPath --value "$FLAVOURD")
dpkg-query -S "$fragment" 2>/dev/null | grep -q '^driver-flavour:' || fail "$FLAVOURD's unit $fragment is not driver-flavour's"
pid=$(systemctl show -p MainPID --value "$FLAVOURD")
[[ "$(readlink "/proc/$pid/exe")" == /usr/sbin/flavourd ]] || fail "flavourd's main process runs $(readlink "/proc/$pid/exe")"
note "ok: $FLAVOURD ($fragment) enabled by the package and running /usr/sbin/flavourd"
[[ "$(systemctl is-enabled flavourd-settle.service)" == enabled ]] ||
    fail "flavourd-settle.service is $(systemctl is-enabled flavourd-settle.service), not enabled"
[[ "$(systemctl show -p ActiveState --value flavourd-settle.service)/$(systemctl show -p Result --value flavourd-settle.service)" == active/success ]] ||
    fail "flavourd-settle.service is $(systemctl show -p ActiveState --value flavourd-settle.service)/$(systemctl show -p Result --value flavourd-settle.service)"
note "ok: flavourd-settle.service enabled and done at boot"
for file in /lib/udev/rules.d/70-driver-flavour.rules /usr/share/man/man8/flavourd.8.gz \
    /usr/share/man/man1/flavourctl.1.gz /usr/share/man/man5/driver-flavour.conf.5.gz; do
    [[ -e "$file" ]] || fail "$file is missing"
done
note "ok: udev rules and manual pages in place"

dpkg-query -W -f='${Conffiles}\n' driver-flavour | grep -q " $EXAMPLE " || fail "$EXAMPLE is not a conffile of driver-flavour"
grep -Ev '^(#|$)' "$EXAMPLE" && fail "$EXAMPLE has lines that are not comments"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
sed -n 's/^#\([a-z]\)/\1/p' "$EXAMPLE" >"$scratch/00-example.conf"
[[ -s "$scratch/00-example.conf" ]] || fail "$EXAMPLE has no commented example lines"
addr=$(find_dev "${VIRTIO_NET_ID[@]}")
flavourctl explain "$addr" --config-dir "$scratch" >/dev/null ||
    fail "the example's $(wc -l <"$scratch/00-example.conf") lines, uncommented, are not a valid configuration"
note "ok: $EXAMPLE is a conffile, all comments; its $(wc -l <"$scratch/00-example.conf") example lines parse"

run dkms status driver-flavour
dkms status driver-flavour | grep -qx "driver-flavour/$version, $kernel, $(uname -m): installed" ||
    fail "dkms status does not say driver-flavour/$version is installed for $kernel"
[[ -e "/var/lib/dkms/driver-flavour/$version/$kernel/$(uname -m)/log/make.log" ]] || fail "DKMS kept no build log for $kernel"
path=$(modinfo -n driver_flavour) || fail "modinfo finds no driver_flavour"
[[ "$path" == "/lib/modules/$kernel/updates/dkms/driver_flavour.ko"* ]] || fail "modinfo finds driver_flavour at $path, not under updates/dkms"
others=$(find /lib/modules/"$kernel" -name 'driver_flavour.ko*' ! -path '*/updates/dkms/*')
[[ -z "$others" ]] || fail "other driver_flavour modules: $others"
[[ "$(modinfo -F version driver_flavour)" == "$version" ]] ||
    fail "the module's version is '$(modinfo -F version driver_flavour)', the package's $version"
note "ok: driver_flavour is DKMS's build ($path), version $version"
if ! grep -q '^driver_flavour ' /proc/modules; then
    run modprobe driver_flavour || fail "modprobe driver_flavour exited $?"
    loaded=1
fi
[[ "$(cat /sys/module/driver_flavour/version)" == "$version" ]] || fail "the loaded module's version is $(cat /sys/module/driver_flavour/version)"
((${loaded:-0})) && run rmmod driver_flavour
note "ok: the loaded module reports $version"
