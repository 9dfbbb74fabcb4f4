#!/usr/bin/env bash
# A standing request for the NVMe PF's VFs (an address glob computed from the PF's
# sriov_offset and sriov_stride, which does not cover the PF), picked up by a reload: flavourd
# turns the PF's sriov_drivers_autoprobe off (the request covers every VF the PF can have), and
# 32 new VFs end on vfio-pci through hotplug requests without nvme ever probing one. With the
# request gone, a reload turns autoprobe back on.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

NUM_VFS=32
CONF="$CONF_DIR/60-vfs.conf"

# vf_globs PF N: address globs that cover exactly the PF's first N VF addresses, one per
# device number: DDDD:BB:DD.* when all 8 functions are VFs, DDDD:BB:DD.[fff] otherwise.
# VF i is at routing id PF + offset + i * stride (drivers/pci/iov.c, pci_iov_virtfn_bus/devfn).
vf_globs() {
    local pf=$1 n=$2 offset stride domain bus devfn rid i slot
    local -A functions=()
    local -a order=()
    read -r offset <"$SYSFS_PCI/$pf/sriov_offset"
    read -r stride <"$SYSFS_PCI/$pf/sriov_stride"
    domain=${pf%%:*}
    bus=$((16#$(cut -d: -f2 <<<"$pf")))
    devfn=$(((16#$(cut -d: -f3 <<<"$pf" | cut -d. -f1) << 3) | ${pf##*.}))
    for ((i = 0; i < n; i++)); do
        rid=$(((bus << 8) + devfn + offset + i * stride))
        slot=$(printf '%s:%02x:%02x' "$domain" $((rid >> 8)) $(((rid >> 3) & 31)))
        [[ -v "functions[$slot]" ]] || order+=("$slot")
        functions[$slot]+=$((rid & 7))
    done
    for slot in "${order[@]}"; do
        if ((${#functions[$slot]} == 8)); then
            printf '%s.*\n' "$slot"
        else
            printf '%s.[%s]\n' "$slot" "${functions[$slot]}"
        fi
    done
}

pf=$(find_dev "${NVME_ID[@]}")
pfdir="$SYSFS_PCI/$pf"
note "NVMe PF $pf on '$(driver_of "$pf")', sriov_offset $(cat "$pfdir/sriov_offset"), sriov_stride $(cat "$pfdir/sriov_stride")"

cleanup() {
    [[ -n "${monitor:-}" ]] && kill "$monitor" 2>/dev/null
    set_numvfs "$pf" 0
    if [[ -e "$CONF" ]]; then
        rm -f "$CONF"
        systemctl reload "$FLAVOURD" || true
    fi
    echo 1 >"$pfdir/sriov_drivers_autoprobe"
}
trap cleanup EXIT

expect_daemon
set_numvfs "$pf" 0
echo 1 >"$pfdir/sriov_drivers_autoprobe"

mapfile -t globs < <(vf_globs "$pf" "$NUM_VFS")
printf 'request vfio %s\n' "${globs[@]}" >"$CONF"
run cat "$CONF"
for glob in "${globs[@]}"; do
    # shellcheck disable=SC2053 # the glob is the pattern
    [[ "$pf" != $glob ]] || fail "glob $glob covers the PF $pf itself"
done
reload_daemon
[[ "$(cat "$pfdir/sriov_drivers_autoprobe")" == 0 ]] ||
    fail "flavourd left $pf's sriov_drivers_autoprobe at $(cat "$pfdir/sriov_drivers_autoprobe")"
note "ok: flavourd turned $pf's sriov_drivers_autoprobe off"
expect_driver "$pf" nvme

events=$(mktemp)
udevadm monitor --kernel --property --subsystem-match=pci >"$events" &
monitor=$!
sleep 0.5

cursor=$(journal_mark)
start=$(date +%s%N)
run sh -c "echo $NUM_VFS > $pfdir/sriov_numvfs"
mapfile -t vfs < <(vf_addresses "$pf")
((${#vfs[@]} == NUM_VFS)) || fail "$pf has ${#vfs[@]} VFs, expected $NUM_VFS"

all_on_vfio() {
    local vf
    for vf in "${vfs[@]}"; do on_driver "$vf" vfio-pci || return 1; done
}
wait_until 90 all_on_vfio || {
    for vf in "${vfs[@]}"; do on_driver "$vf" vfio-pci || note "$vf on '$(driver_of "$vf")'"; done
    fail "not every VF reached vfio-pci within 90 s"
}
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
note "ok: all $NUM_VFS VFs (${vfs[0]} .. ${vfs[-1]}) on vfio-pci ${elapsed_ms} ms after sriov_numvfs"
for vf in "${vfs[@]}"; do
    covered=0
    for glob in "${globs[@]}"; do
        # shellcheck disable=SC2053 # the glob is the pattern
        if [[ "$vf" == $glob ]]; then covered=1; fi
    done
    ((covered)) || fail "VF $vf is not covered by the standing request's globs"
done

sleep 0.5
kill "$monitor"
monitor=
hotplug=$(flavourd_entries "$cursor" MESSAGE_ID="$MSG_BOUND" REQUEST_ORIGIN=hotplug | jq -r .PCI_SLOT_NAME | sort -u | wc -l)
note "flavourd logged $hotplug hotplug binds"
((hotplug == NUM_VFS)) || fail "flavourd logged $hotplug hotplug 'bound' entries for $NUM_VFS VFs"
nvme_binds=$(awk -v RS= '/ACTION=bind/ && /(^|\n)DRIVER=nvme(\n|$)/' "$events" | grep -c '^ACTION=bind' || true)
vfio_binds=$(awk -v RS= '/ACTION=bind/ && /(^|\n)DRIVER=vfio-pci(\n|$)/' "$events" | grep -c '^ACTION=bind' || true)
note "uevents: $vfio_binds binds to vfio-pci, $nvme_binds to nvme"
((nvme_binds == 0)) || fail "nvme bound $nvme_binds devices during the run"
messages=$(dmesg)
for vf in "${vfs[@]}"; do
    # nvme's probe prints "nvme 0000:01:00.1: ..." or "nvme nvmeN: pci function 0000:01:00.1".
    ! grep -Eq "nvme( .*pci function)? $vf" <<<"$messages" ||
        fail "nvme probed VF $vf (dmesg: $(grep -E "nvme( .*pci function)? $vf" <<<"$messages" | head -n1))"
done
note "ok: nvme never probed a VF"

# Without the request, flavourd gives the PF its VF autoprobe back (it turned it off itself).
set_numvfs "$pf" 0
rm -f "$CONF"
reload_daemon
autoprobe_on() { [[ "$(cat "$pfdir/sriov_drivers_autoprobe")" == 1 ]]; }
wait_until 10 autoprobe_on ||
    fail "with the request gone, flavourd left $pf's sriov_drivers_autoprobe at $(cat "$pfdir/sriov_drivers_autoprobe")"
note "ok: request removed, sriov_drivers_autoprobe back to 1"
