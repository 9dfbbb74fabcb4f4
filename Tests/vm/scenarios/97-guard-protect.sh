#!/usr/bin/env bash
# vm-profile: guard
# `protect`: the management NIC, named by its MAC, is never moved. A broad standing request
# with force covers it (every Intel network function); flavourd refuses it at reload, naming
# the rule, and flavourctl refuses it with --force too. explain and list say it is protected.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

addr=$(find_dev "${E1000E_ID[@]}")
[[ "$(driver_of "$addr")" == e1000e ]] || apply "$addr" none
expect_netdev "$addr"
iface=$(basename "$(netdevs "$addr" | head -n1)")
mac=$(cat "/sys/class/net/$iface/address")
conf=$CONF_DIR/50-vmtest-protect.conf
cleanup() {
    rm -f "$conf"
    systemctl reload "$FLAVOURD" 2>/dev/null || true
}
trap cleanup EXIT
printf '%s\n' "request vfio pci:v00008086d000010D3* force" "protect $mac" >"$conf"
mark=$(journal_mark)
reload_daemon
entry=$(wait_entry 30 "$mark" "MESSAGE_ID=$MSG_REJECTED" "PCI_SLOT_NAME=$addr")
show_entry "$entry"
[[ "$(jq -r '.REASON // empty' <<<"$entry")" == *"is protected by protect $mac"* ]] || fail "the rejection does not name the protect rule"
expect_driver "$addr" e1000e

out=$(flavourctl apply --force "$addr" vfio 2>&1) && fail "flavourctl apply --force took the protected $addr: $out"
printf '%s\n' "$out"
[[ "$out" == *"is protected by protect $mac ($conf:2)"* ]] || fail "flavourctl's refusal does not name the rule"
expect_driver "$addr" e1000e
out=$(flavourctl explain "$addr" 2>&1)
grep -q "^protected: yes, by protect $mac" <<<"$out" || fail "explain does not say protected"
flavourctl list | grep "^$addr " | grep -q protected || fail "list does not say protected"
note "ok: protected against a standing request with force, and --force"
