#!/usr/bin/env bash
# vm-profile: guard
# A PF with one VF on vfio-pci that a VFIO user holds (vfio-client --hold, as nobody). The PF
# is in use: moving its driver takes the VFs with it. flavourctl and flavourd refuse the PF,
# naming the VF and its holder; --force takes it (the VFs go with the PF's driver).
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

pf=$(find_dev "${NVME_ID[@]}")
[[ "$(driver_of "$pf")" == nvme ]] || apply "$pf" none
holder=
cleanup() {
    if [[ -n "$holder" ]]; then kill "$holder" 2>/dev/null || true; wait "$holder" 2>/dev/null || true; fi
    if [[ -n "${group:-}" && -e "/dev/vfio/$group" ]]; then chown root "/dev/vfio/$group"; fi
    [[ "$(driver_of "$pf")" == nvme ]] || flavourctl apply "$pf" none >/dev/null 2>&1 || true
    echo 0 >"$SYSFS_PCI/$pf/sriov_numvfs" 2>/dev/null || true
    echo 1 >"$SYSFS_PCI/$pf/sriov_drivers_autoprobe" 2>/dev/null || true
}
trap cleanup EXIT
echo 0 >"$SYSFS_PCI/$pf/sriov_drivers_autoprobe"
set_numvfs "$pf" 2
mapfile -t vfs < <(vf_addresses "$pf")
vf=${vfs[1]}
apply "$vf" vfio
group=$(basename "$(readlink "$SYSFS_PCI/$vf/iommu_group")")
chown nobody "/dev/vfio/$group"
out=$(mktemp)
setpriv --reuid=65534 --regid=65534 --clear-groups "$VMTEST_DIR/vfio-client" --hold "$vf" >"$out" 2>&1 &
holder=$!
wait_until 10 grep -q vendor= "$out" || fail "vfio-client --hold $vf: $(cat "$out")"
note "VF $vf (group $group) held by vfio-client (pid $holder)"

expect_apply_refused "$pf" vfio "in use" "VF $vf" "vfio-client" "(pid $holder)" "moving the PF takes its VFs with it"
expect_daemon_refuses "$pf" "VF $vf"

# --force: the guard stands aside (the override is logged) and the request runs. The PF
# leaves nvme (its VFs stay: drivers/pci/iov.c, pci_iov_remove only warns), and vfio-pci
# then refuses a PF with VFs enabled (EBUSY, vfio_pci_core_register_device): the kernel's
# own rule, so the PF goes back to nvme. The VF and its user are left alone.
mark=$(journal_mark)
out=$(flavourctl apply --force "$pf" vfio 2>&1) || true
printf '%s\n' "$out"
[[ "$out" != *"in use by the host"* ]] || fail "--force did not override the guard"
journalctl -q -b --no-pager -o cat --since="$mark" SYSLOG_IDENTIFIER=flavourctl | grep -q "In-use guard overridden" ||
    fail "the journal does not record the override"
[[ "$out" == *EBUSY* || "$(driver_of "$pf")" == *vfio* ]] || fail "the forced request neither bound $pf nor met vfio-pci's EBUSY"
note "ok: --force overrode the guard; $pf is on '$(driver_of "$pf")'"
expect_driver "$vf" vfio-pci
kill -0 "$holder" || fail "the VF's holder is gone"
