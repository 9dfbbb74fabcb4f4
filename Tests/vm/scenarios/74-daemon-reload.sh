#!/usr/bin/env bash
# `systemctl reload flavourd` re-reads the config: with a deny rule for virtio_vfio_pci the
# vfio flavour puts virtio-net on vfio-pci; without it (reloaded again), on the variant.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

CONF="$CONF_DIR/50-vmtest-deny-virtio.conf"

# request_vfio ADDR: a synthetic vfio request; prints the driver its bound entry names.
request_vfio() {
    local cursor uuid entry
    cursor=$(journal_mark)
    uuid=$(new_uuid)
    synth_request "$1" vfio "$uuid"
    entry=$(wait_entry 30 "$cursor" MESSAGE_ID="$MSG_BOUND" SYNTH_UUID="$uuid")
    show_entry "$entry" >&2
    jq -r .DRIVER <<<"$entry"
}

cleanup() {
    if [[ -e "$CONF" ]]; then
        rm -f "$CONF"
        systemctl reload "$FLAVOURD" || true
    fi
}
trap cleanup EXIT

expect_daemon
addr=$(find_dev "${VIRTIO_NET_ID[@]}")
note "virtio-net at $addr on '$(driver_of "$addr")'"
[[ "$(driver_of "$addr")" == virtio-pci ]] || daemon_set "$addr" none
expect_driver "$addr" virtio-pci

printf 'deny vfio vfio_pci:v00001AF4d00001041* virtio_vfio_pci\n' >"$CONF"
run cat "$CONF"
reload_daemon
driver=$(request_vfio "$addr")
[[ "$driver" == vfio-pci ]] || fail "with virtio_vfio_pci denied the daemon chose '$driver'"
expect_driver "$addr" vfio-pci
expect_vfio_vendor "$addr" 1af4
daemon_set "$addr" none
expect_driver "$addr" virtio-pci

rm -f "$CONF"
reload_daemon
driver=$(request_vfio "$addr")
[[ "$driver" == virtio_vfio_pci ]] || fail "with the deny rule gone the daemon chose '$driver'"
expect_driver "$addr" virtio_vfio_pci
daemon_set "$addr" none
expect_driver "$addr" virtio-pci
expect_netdev "$addr"
# Each reload parses the real modules.alias again: the memory it frees must not stay resident
# (one malloc arena, trimmed after the reload). Reported, not enforced.
pid=$(systemctl show -p MainPID --value "$FLAVOURD")
note "BENCH flavourd RSS after its reloads: $(awk '/^VmRSS:/ {print $2, $3}' "/proc/$pid/status") (RssAnon $(awk '/^RssAnon:/ {print $2, $3}' "/proc/$pid/status"))"
