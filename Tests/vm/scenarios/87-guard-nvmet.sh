#!/usr/bin/env bash
# vm-profile: guard
# A disk exported over NVMe-oF by the kernel's target (nvmet, configured through configfs as
# nvmetcli does): nothing is mounted and holders/ is empty. flavourctl and flavourd refuse
# the disk's controller, naming the subsystem; --force takes it.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

disk=$(disk_by_serial guard-nvmet)
addr=$(pci_above "$(readlink -f "/sys/class/block/$disk")")
driver=$(driver_of "$addr")
nqn=nqn.2024-01.io.driver-flavour:guard
subsystem=/sys/kernel/config/nvmet/subsystems/$nqn

cleanup() {
    if [[ -d "$subsystem" ]]; then
        echo 0 >"$subsystem/namespaces/1/enable" 2>/dev/null || true
        rmdir "$subsystem/namespaces/1" "$subsystem" 2>/dev/null || true
    fi
    [[ "$(driver_of "$addr")" == "$driver" ]] || flavourctl apply "$addr" none >/dev/null 2>&1 || true
}
trap cleanup EXIT
run modprobe nvmet
mkdir "$subsystem"
echo 1 >"$subsystem/attr_allow_any_host"
mkdir "$subsystem/namespaces/1"
echo "/dev/$disk" >"$subsystem/namespaces/1/device_path"
echo 1 >"$subsystem/namespaces/1/enable"
note "nvmet exports /dev/$disk ($addr on '$driver') as $nqn namespace 1"

expect_apply_refused "$addr" vfio "in use" "$disk" "nvmet" "$nqn"
expect_daemon_refuses "$addr" "nvmet"

run flavourctl apply --force "$addr" vfio || fail "flavourctl apply --force exited $?"
[[ "$(driver_of "$addr")" == *vfio* ]] || fail "$addr is on '$(driver_of "$addr")' after --force"
echo 0 >"$subsystem/namespaces/1/enable"
apply "$addr" none
expect_driver "$addr" "$driver"
