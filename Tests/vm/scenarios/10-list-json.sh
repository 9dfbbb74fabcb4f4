#!/usr/bin/env bash
# `flavourctl list --json` on the real sysfs agrees with what the kernel shows: one object per
# PCI device, ids, class, driver, driver_override and IOMMU group as sysfs has them, and the
# VFIO module the vfio flavour would try first for the test devices.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

# sysfs_object ADDR: the object sysfs says ADDR should have (without vfio_driver).
sysfs_object() {
    local dev="$SYSFS_PCI/$1" driver=null override group=null
    [[ -L "$dev/driver" ]] && driver=$(jq -n --arg d "$(driver_of "$1")" '$d')
    override=$(cat "$dev/driver_override")
    if [[ "$override" == "(null)" ]]; then override=null; else override=$(jq -n --arg o "$override" '$o'); fi
    [[ -L "$dev/iommu_group" ]] && group=$(basename "$(readlink "$dev/iommu_group")")
    jq -n --arg address "$1" \
        --arg vendor "$(sed 's/^0x//' "$dev/vendor")" --arg device "$(sed 's/^0x//' "$dev/device")" \
        --arg sv "$(sed 's/^0x//' "$dev/subsystem_vendor")" \
        --arg sd "$(sed 's/^0x//' "$dev/subsystem_device")" \
        --arg class "$(cat "$dev/class")" --argjson driver "$driver" --argjson override "$override" \
        --argjson group "$group" \
        '{address: $address, vendor: $vendor, device: $device, subsystem_vendor: $sv,
          subsystem_device: $sd, class: $class, driver: $driver, driver_override: $override,
          iommu_group: $group}'
}

# check_device JSON ADDR: ADDR appears once in JSON, with sysfs's values.
check_device() {
    local json=$1 addr=$2 expected diff
    expected=$(sysfs_object "$addr")
    diff=$(jq -r --arg a "$addr" --argjson exp "$expected" '
        [.[] | select(.address == $a)] as $m
        | if ($m | length) != 1 then "appears \($m | length) times"
          else $m[0] as $o
            | [($exp | to_entries[] | select(.value != $o[.key])
                | "\(.key): list says \($o[.key] | tojson), sysfs says \(.value | tojson)"),
               (if ($o | has("vfio_driver")) then empty else "no vfio_driver key" end)]
            | join("; ")
          end' <<<"$json")
    [[ -z "$diff" ]] || fail "$addr: $diff"
}

# expect_vfio_driver JSON ADDR MODULE: the vfio flavour would try MODULE first for ADDR.
expect_vfio_driver() {
    local got
    got=$(jq -r --arg a "$2" '.[] | select(.address == $a) | .vfio_driver' <<<"$1")
    [[ "$got" == "$3" ]] || fail "$2: vfio_driver is '$got', expected '$3'"
    note "ok: $2 vfio_driver $3"
}

main() {
    local json count_sysfs count_json dev
    json=$(flavourctl list --json) || fail "flavourctl list --json exited $?"
    jq -e 'type == "array"' <<<"$json" >/dev/null || fail "flavourctl list --json is not a JSON array"
    count_sysfs=$(find "$SYSFS_PCI"/ -mindepth 1 -maxdepth 1 | wc -l)
    count_json=$(jq length <<<"$json")
    [[ "$count_json" == "$count_sysfs" ]] ||
        fail "list has $count_json devices, sysfs has $count_sysfs"
    note "ok: $count_json devices, as in sysfs"
    for dev in "$SYSFS_PCI"/*; do
        check_device "$json" "$(basename "$dev")"
    done
    note "ok: every device's ids, class, driver, driver_override and iommu_group agree with sysfs"
    expect_vfio_driver "$json" "$(find_dev "${VIRTIO_NET_ID[@]}")" virtio_vfio_pci
    expect_vfio_driver "$json" "$(find_dev "${E1000E_ID[@]}")" flavour_test_vfio_pci
    expect_vfio_driver "$json" "$(find_dev "${NVME_ID[@]}")" vfio_pci
}

main
