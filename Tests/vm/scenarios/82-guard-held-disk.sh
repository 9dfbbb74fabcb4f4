#!/usr/bin/env bash
# vm-profile: guard
# A second disk whose block device a process holds open, as a VM's QEMU holds its raw disk or a
# database its volume: nothing is mounted, nothing is stacked on it, only /proc/PID/fd shows the
# use. The holder runs as another user (nobody), as libvirt runs QEMU, so flavourd's sandbox
# (ProtectProc=invisible) is part of what is tested. flavourctl apply and flavourd refuse the
# disk's controller, naming the holder (comm and pid); --force takes it.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

disk=$(disk_by_serial guard-held)
addr=$(pci_above "$(readlink -f "/sys/class/block/$disk")")
driver=$(driver_of "$addr")
note "/dev/$disk is below $addr on '$driver'"

holder=
cleanup() {
    if [[ -n "$holder" ]]; then kill "$holder" 2>/dev/null || true; fi
    [[ "$(driver_of "$addr")" == "$driver" ]] || flavourctl apply "$addr" none >/dev/null 2>&1 || true
}
trap cleanup EXIT
# The shell opens the disk as root; setpriv then runs sleep as nobody with it open.
setpriv --reuid=65534 --regid=65534 --clear-groups sleep 600 <"/dev/$disk" &
holder=$!
wait_until 5 test -e "/proc/$holder/fd/0" || fail "the holder did not start"
run ls -l "/proc/$holder/fd/0"
run ps -o pid,user,comm -p "$holder"

expect_apply_refused "$addr" vfio "in use" "sleep" "$holder" "/dev/$disk"
expect_daemon_refuses "$addr" "(pid $holder)"

# What the guard costs a request (a figure, not a target): ten refused applies with the whole
# guard (tables, the O_EXCL probe, the scan of every process's fds), against ten whose
# --proc-root is empty (the guard fails closed at once, nothing scanned); the difference is
# what reading /proc costs on this guest.
empty=$(mktemp -d)
guard_ms() {
    local i start=$EPOCHREALTIME
    for i in 1 2 3 4 5 6 7 8 9 10; do flavourctl apply "$@" "$addr" vfio >/dev/null 2>&1 && fail "apply $* was not refused"; done
    awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 100 }'
}
full=$(guard_ms)
bare=$(guard_ms --proc-root "$empty")
echo "BENCH guard $(find /proc -maxdepth 1 -name '[0-9]*' | wc -l) processes: refused apply ${full} ms with the whole guard, ${bare} ms with an empty /proc; the scan and /proc tables $(awk -v f="$full" -v b="$bare" 'BEGIN { printf "%.1f", f - b }') ms a request"
rmdir "$empty"

run flavourctl apply --force "$addr" vfio || fail "flavourctl apply --force exited $?"
[[ "$(driver_of "$addr")" == *vfio* ]] || fail "$addr is on '$(driver_of "$addr")' after --force"
kill "$holder"
holder=
apply "$addr" none
expect_driver "$addr" "$driver"
