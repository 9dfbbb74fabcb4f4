#!/usr/bin/env bash
# `flavourctl list --json` on the real sysfs agrees with what the kernel shows: one object per
# PCI device, ids, class, driver, driver_override and IOMMU group as sysfs has them, and the
# VFIO module the vfio flavour would try first for the test devices.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

# link_name LINK: the last component of a sysfs link's target, without forking.
link_name() {
    local here=$PWD name
    cd -P "$1" && name=${PWD##*/}
    cd "$here"
    printf '%s' "$name"
}

# sysfs_objects: what sysfs says about each device, one JSON object a line (no vfio_driver).
sysfs_objects() {
    local dev v d sv sd class driver override group
    for dev in "$SYSFS_PCI"/*; do
        read -r v <"$dev/vendor"
        read -r d <"$dev/device"
        read -r sv <"$dev/subsystem_vendor"
        read -r sd <"$dev/subsystem_device"
        read -r class <"$dev/class"
        read -r override <"$dev/driver_override"
        driver=null group=null
        [[ -L "$dev/driver" ]] && driver="\"$(link_name "$dev/driver")\""
        [[ -L "$dev/iommu_group" ]] && group=$(link_name "$dev/iommu_group")
        [[ "$override" == "(null)" ]] && override=null || override="\"$override\""
        printf '{"address":"%s","vendor":"%s","device":"%s","subsystem_vendor":"%s",' \
            "${dev##*/}" "${v#0x}" "${d#0x}" "${sv#0x}"
        printf '"subsystem_device":"%s","class":"%s","driver":%s,"driver_override":%s,"iommu_group":%s}\n' \
            "${sd#0x}" "$class" "$driver" "$override" "$group"
    done
}

# DIFFERENCES: every way the list disagrees with sysfs and with the expected vfio_driver
# ($want: address -> module), one line each.
# shellcheck disable=SC2016 # a jq program, not shell
DIFFERENCES='
    . as $list
    | (if ($list | length) != ($exp | length)
       then "list has \($list | length) devices, sysfs has \($exp | length)" else empty end),
      ($exp[] as $e
       | [$list[] | select(.address == $e.address)] as $m
       | if ($m | length) != 1 then "\($e.address): appears \($m | length) times in the list"
         else $m[0] as $o
           | ($e | to_entries[] | select(.value != $o[.key])
              | "\($e.address): \(.key): list says \($o[.key] | tojson), sysfs says \(.value | tojson)"),
             (if ($o | has("vfio_driver")) then empty else "\($e.address): no vfio_driver key" end),
             (if $want[$e.address] and $o.vfio_driver != $want[$e.address]
              then "\($e.address): vfio_driver \($o.vfio_driver | tojson), expected \($want[$e.address])"
              else empty end)
         end)'

main() {
    local json want diffs
    json=$(flavourctl list --json) || fail "flavourctl list --json exited $?"
    jq -e 'type == "array"' <<<"$json" >/dev/null || fail "flavourctl list --json is not a JSON array"
    want=$(printf '{"%s":"virtio_vfio_pci","%s":"flavour_test_vfio_pci","%s":"vfio_pci"}' \
        "$(find_dev "${VIRTIO_NET_ID[@]}")" "$(find_dev "${E1000E_ID[@]}")" "$(find_dev "${NVME_ID[@]}")")
    note "expected vfio_driver: $want"
    diffs=$(jq -r --slurpfile exp <(sysfs_objects) --argjson want "$want" "$DIFFERENCES" <<<"$json")
    if [[ -n "$diffs" ]]; then
        printf '%s\n' "$diffs"
        fail "$(head -n1 <<<"$diffs")"
    fi
    note "ok: $(jq length <<<"$json") devices; ids, class, driver, driver_override, iommu_group and vfio_driver agree with sysfs"
}

main
