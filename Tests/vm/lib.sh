# shellcheck shell=bash
# Helpers for the guest scenarios (Tests/vm/scenarios/*.sh) and the demo. Runs inside the QEMU
# guest only: every sysfs write here is to the guest's kernel. Source it.

VMTEST_DIR=${VMTEST_DIR:-/usr/lib/driver-flavour-vmtest}
SYSFS_PCI=/sys/bus/pci/devices

# fail WHY: ends the scenario as failed; run-scenarios prints WHY on the result line.
fail() {
    if [[ -n "${VMTEST_REASON:-}" ]]; then printf '%s\n' "$*" >"$VMTEST_REASON"; fi
    printf 'FAIL: %s\n' "$*"
    exit 1
}

# note TEXT: a line of scenario output.
note() {
    printf '%s\n' "$*"
}

# run CMD...: prints and runs a command; its output is shown; its status returned.
run() {
    printf '+ %s\n' "$*"
    "$@"
}

# find_devs VENDOR DEVICE: addresses of the PCI devices with that id (hex, no 0x), in order.
# Reads with the read builtin: every fork costs under TCG.
find_devs() {
    local vendor=$1 device=$2 dev v d
    for dev in "$SYSFS_PCI"/*; do
        read -r v <"$dev/vendor"
        read -r d <"$dev/device"
        [[ "$v" == "0x$vendor" && "$d" == "0x$device" ]] && printf '%s\n' "${dev##*/}"
    done
    return 0
}

# find_dev VENDOR DEVICE: the first such address; fails the scenario if none.
find_dev() {
    local addr
    addr=$(find_devs "$1" "$2" | head -n1)
    [[ -n "$addr" ]] || fail "no PCI device $1:$2 in the guest"
    printf '%s\n' "$addr"
}

# driver_of ADDR: the bound driver's name, or nothing.
driver_of() {
    local link="$SYSFS_PCI/$1/driver"
    [[ -L "$link" ]] && basename "$(readlink "$link")"
    return 0
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds or time runs out.
wait_until() {
    local deadline=$(( $(date +%s) + $1 ))
    shift
    until "$@"; do
        (( $(date +%s) < deadline )) || return 1
        sleep 0.1
    done
}

# expect_driver ADDR DRIVER: fails unless ADDR's driver link names DRIVER.
expect_driver() {
    local got
    got=$(driver_of "$1")
    [[ "$got" == "$2" ]] || fail "$1 is on '${got:-no driver}', expected '$2'"
    note "ok: $1 on $2"
}

# netdevs ADDR: ADDR's network interfaces (virtio-net's hang below its virtioN child device).
netdevs() {
    compgen -G "$SYSFS_PCI/$1/net/*" || compgen -G "$SYSFS_PCI/$1/virtio*/net/*" || true
}

# has_netdev ADDR: true when ADDR has a network interface.
has_netdev() {
    [[ -n "$(netdevs "$1")" ]]
}

# expect_netdev ADDR: fails unless ADDR gets a network interface within 5 s.
expect_netdev() {
    wait_until 5 has_netdev "$1" || fail "$1 has no network interface under net/"
    note "ok: $1 has interface $(basename "$(netdevs "$1" | head -n1)")"
}

# expect_module MODULE: fails unless MODULE is loaded.
expect_module() {
    grep -q "^$1 " /proc/modules || fail "module $1 is not loaded"
    note "ok: module $1 loaded"
}

# module_driver MODULE: the PCI driver MODULE registered. Module name is not driver name:
# virtio_vfio_pci registers virtio_vfio_pci, vfio_pci registers vfio-pci (KBUILD_MODNAME or not).
module_driver() {
    local d
    for d in /sys/module/"$1"/drivers/pci:*; do
        [[ -e "$d" ]] && printf '%s\n' "${d##*/pci:}" && return 0
    done
    return 1
}

# expect_module_driver ADDR MODULE: MODULE is loaded and ADDR is on the driver it registered.
expect_module_driver() {
    local driver
    expect_module "$2"
    driver=$(module_driver "$2") || fail "module $2 registered no PCI driver"
    expect_driver "$1" "$driver"
}

# expect_vfio_vendor ADDR VENDOR: opens ADDR through VFIO and checks the vendor id it reads.
expect_vfio_vendor() {
    local out
    out=$("$VMTEST_DIR/vfio-client" "$1" 2>&1) || fail "vfio-client $1: $out"
    note "vfio-client $1: $out"
    [[ "$out" == "vendor=0x$2 "* ]] || fail "vfio-client $1 read '$out', expected vendor 0x$2"
}

# apply ADDR FLAVOUR: flavourctl apply, failing the scenario when it fails.
apply() {
    run flavourctl apply "$1" "$2" || fail "flavourctl apply $1 $2 exited $?"
}

# Test devices (scripts/vm/run): virtio-net (modern only), e1000e, the SR-IOV NVMe PF.
# Used by the scenarios that source this file.
# shellcheck disable=SC2034
readonly VIRTIO_NET_ID=(1af4 1041) E1000E_ID=(8086 10d3) NVME_ID=(1b36 0010)
