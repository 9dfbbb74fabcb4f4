#!/usr/bin/env bash
# flavourd.service, installed and enabled as a user would (make install), is active/running
# after boot (Type=notify: READY=1 came after coldplug), and `flavourctl status --json` sees a
# live daemon listening on udev's events.
set -euo pipefail
# shellcheck source=Tests/vm/lib.sh
source "$VMTEST_DIR/lib.sh"

expect_daemon
run systemctl show -p ActiveState,SubState,MainPID,NRestarts "$FLAVOURD"
pid=$(systemctl show -p MainPID --value "$FLAVOURD")

json=$(flavourctl status --json) || fail "flavourctl status --json exited $?"
jq -c '{running, pid, state, source, driver_flavour_module, standing_requests}' <<<"$json"
jq -e '.running == true' <<<"$json" >/dev/null || fail "flavourctl status says flavourd is not running"
# udev's events, and the kernel's own adds beside them (--kernel-adds, on by default).
jq -e '.source == "udev+kernel-add"' <<<"$json" >/dev/null ||
    fail "flavourd listens on '$(jq -r .source <<<"$json")' events, expected udev+kernel-add"
jq -e '.state == "ready"' <<<"$json" >/dev/null || fail "flavourd's state is '$(jq -r .state <<<"$json")', not ready"
[[ "$(jq -r .pid <<<"$json")" == "$pid" ]] ||
    fail "status.json names pid $(jq -r .pid <<<"$json"), systemd's MainPID is $pid"
note "ok: flavourd active/running as pid $pid, ready, listening to udev events and the kernel's adds"
# The figure the host benchmark (flavourd-bench) measures, here for the daemon as installed:
# udev source, journald, the unit's sandbox. Reported, not enforced.
note "BENCH flavourd RSS as installed (udev source), after the scenarios before this one: $(awk '/^VmRSS:/ {print $2, $3}' "/proc/$pid/status")"
