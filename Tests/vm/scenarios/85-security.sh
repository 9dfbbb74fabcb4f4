#!/usr/bin/env bash
# How exposed flavourd.service is, as systemd rates it: `systemd-analyze security` on the live
# unit and --offline=true on the installed unit file. Both tables go to the console (recorded
# in docs/hardening.md); the scenario fails if the analysis cannot run, if either score is above
# 3.0, or if the daemon's journal shows the sandbox getting in its way (EPERM, a killed syscall).
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

UNIT_FILE=/usr/lib/systemd/system/flavourd.service
OUT=/run/driver-flavour-vmtest
mkdir -p "$OUT"

expect_daemon
systemd-analyze security --no-pager "$FLAVOURD" >"$OUT/security-live.txt" 2>&1 ||
    { cat "$OUT/security-live.txt"; fail "systemd-analyze security $FLAVOURD exited $?"; }
# --offline exits non-zero when the score is above --threshold (default 100): never here.
systemd-analyze security --no-pager --offline=true "$UNIT_FILE" >"$OUT/security-offline.txt" 2>&1 ||
    { cat "$OUT/security-offline.txt"; fail "systemd-analyze security --offline=true exited $?"; }
echo "---- systemd-analyze security $FLAVOURD (live) ----"
cat "$OUT/security-live.txt"
echo "---- systemd-analyze security --offline=true $UNIT_FILE ----"
cat "$OUT/security-offline.txt"
live=$(grep -a 'Overall exposure level' "$OUT/security-live.txt" | sed 's/.*: //') || true
offline=$(grep -a 'Overall exposure level' "$OUT/security-offline.txt" | sed 's/.*: //') || true
[[ -n "$live" && -n "$offline" ]] || fail "no exposure score in systemd-analyze's output"
echo "SECURITY live: $live"
echo "SECURITY offline: $offline"
# Issues 11 and 12: whatever the guard and the monitor's buffer need, exposure stays <= 3.0.
for score in "${live%% *}" "${offline%% *}"; do
    awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' || fail "exposure $score is above 3.0 (live $live, offline $offline)"
done
note "ok: exposure <= 3.0 live and offline"

denied=$(journalctl -q -b --no-pager -u "$FLAVOURD" -o cat |
    grep -Ei 'operation not permitted|permission denied|EPERM|EACCES|SIGSYS|read-only file system' || true)
kernel=$(dmesg | grep -Ei 'audit.*flavourd|flavourd.*(seccomp|SIGSYS)' || true)
[[ -z "$denied$kernel" ]] || { printf '%s\n' "$denied" "$kernel"; fail "the sandbox denied flavourd something: $(head -n1 <<<"$denied$kernel")"; }
note "ok: no denial in flavourd's journal or the kernel log"
