#!/usr/bin/env bash
# vm-profile: guard
# The guard fails closed: with --proc-root an empty directory it cannot see processes,
# routes or mounts, and refuses, naming each check that could not run; --force overrides.
# And a sandbox that hides processes shows up as a refusal, not a pass: flavourctl run as a
# service with ProtectProc=invisible and procfs's gid= group it is not in, without
# CAP_SYS_PTRACE, refuses a disk a process of another user holds.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

addr=$(find_dev "${E1000E_ID[@]}")
[[ "$(driver_of "$addr")" == e1000e ]] || apply "$addr" none
expect_netdev "$addr"
empty=$(mktemp -d)
out=$(flavourctl apply --proc-root "$empty" "$addr" vfio 2>&1) && fail "flavourctl apply --proc-root $empty took $addr: $out"
printf '%s\n' "$out"
[[ "$out" == *"cannot check"*"$empty/net/route"* ]] || fail "the refusal does not name the routes it could not read"
expect_driver "$addr" e1000e
run flavourctl apply --force --proc-root "$empty" "$addr" vfio || fail "flavourctl apply --force exited $?"
[[ "$(driver_of "$addr")" == *vfio* ]] || fail "$addr is on '$(driver_of "$addr")' after --force"
apply "$addr" none
expect_driver "$addr" e1000e

disk=$(disk_by_serial guard-held)
disk_addr=$(pci_above "$(readlink -f "/sys/class/block/$disk")")
setpriv --reuid=65534 --regid=65534 --clear-groups sleep 600 <"/dev/$disk" &
holder=$!
trap 'kill $holder 2>/dev/null || true' EXIT
out=$(systemd-run --wait --pipe -q -p ProtectProc=invisible -p SupplementaryGroups= -p Group=nogroup \
    -p "CapabilityBoundingSet=CAP_SYS_MODULE CAP_DAC_READ_SEARCH" -p AmbientCapabilities="CAP_DAC_READ_SEARCH" \
    flavourctl explain "$disk_addr" 2>&1) || true
printf '%s\n' "$out"
[[ "$out" == *"in use by the host: "*"cannot check which processes hold its device nodes"* ]] ||
    fail "explain under a sandbox that hides processes did not fail closed"
