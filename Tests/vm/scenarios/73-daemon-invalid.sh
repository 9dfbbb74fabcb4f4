#!/usr/bin/env bash
# A request for a flavour nobody defined is rejected: one "rejected" journal entry naming the
# device and the value, and nothing written to the device (driver, override, interface).
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

expect_daemon
addr=$(find_dev "${VIRTIO_NET_ID[@]}")
driver=$(driver_of "$addr")
override=$(override_of "$addr")
note "virtio-net at $addr on '$driver', driver_override $override"

cursor=$(journal_mark)
uuid=$(new_uuid)
run synth_request "$addr" nosuch "$uuid"
entry=$(wait_entry 10 "$cursor" MESSAGE_ID="$MSG_REJECTED" PCI_SLOT_NAME="$addr")
show_entry "$entry"
expect_fields "$entry" DRIVER_FLAVOUR=nosuch REASON=? PRIORITY=4

sleep 1 # anything the daemon did after the rejection would show by now
[[ "$(driver_of "$addr")" == "$driver" ]] || fail "$addr moved from '$driver' to '$(driver_of "$addr")'"
[[ "$(override_of "$addr")" == "$override" ]] ||
    fail "$addr: driver_override changed from $override to $(override_of "$addr")"
[[ "$driver" != virtio-pci ]] || expect_netdev "$addr"
others=$(flavourd_entries "$cursor" PCI_SLOT_NAME="$addr" | jq -r 'select(.MESSAGE_ID != null and .MESSAGE_ID != "'"$MSG_REJECTED"'") | .MESSAGE')
[[ -z "$others" ]] || fail "flavourd logged more than the rejection for $addr: $others"
note "ok: rejected, and $addr is untouched (on '$driver', driver_override $override)"
