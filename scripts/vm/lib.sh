# shellcheck shell=bash
# Shared helpers for the scripts under scripts/vm/. Source it; do not run it.
# Everything these scripts build lives under .build/vm/ (ignored by git).

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VM_BUILD="${VM_BUILD:-$REPO_ROOT/.build/vm}"
KERNEL_CACHE="$VM_BUILD/kernel"
# Debian's kernel series the guest runs (VM-TESTING.md).
KERNEL_SERIES=6.12
# Kernels the project's modules are also built against (headers only, no guest): Debian 12's
# own, named by its meta package. Unpacked under .build/vm/headers/<abi>/.
HEADERS_CACHE="$VM_BUILD/headers"
HEADERS_ONLY_META=(linux-headers-amd64)

# step CAPTION: prints a caption for the next step of a script.
step() {
    printf '==> %s\n' "$*" >&2
}

# die MESSAGE: prints MESSAGE and exits non-zero.
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# apt_lists_ready: true when apt knows the kernel meta package (no update needed).
apt_lists_ready() {
    apt-cache show "linux-headers-$KERNEL_SERIES-amd64" >/dev/null 2>&1
}

# apt_get ARGS...: apt-get, non-interactive, waiting for a dpkg lock held by someone else.
apt_get() {
    DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300 "$@"
}

# current_abi META CACHE: the ABI whose headers the Debian meta package META depends on, e.g.
# 6.12.117+deb12-amd64; the newest one unpacked in CACHE when apt cannot tell (offline reruns).
current_abi() {
    local meta=$1 cache=$2 abi
    abi=$(apt-cache depends "$meta" 2>/dev/null |
        sed -n 's/^ *Depends: linux-headers-\(.*-amd64\)$/\1/p' | head -n1)
    if [[ -z "$abi" ]]; then
        abi=$(find "$cache" -mindepth 2 -maxdepth 2 -name .complete -printf '%h\n' 2>/dev/null |
            xargs -r -n1 basename | sort -V | tail -n1)
    fi
    [[ -n "$abi" ]] || die "cannot find the ABI of $meta (apt-get update?)"
    printf '%s\n' "$abi"
}

# kernel_abi: Debian's current ABI of the series the guest runs.
kernel_abi() {
    current_abi "linux-headers-$KERNEL_SERIES-amd64" "$KERNEL_CACHE"
}

# kernel_dir ABI: where that ABI's packages are unpacked.
kernel_dir() {
    printf '%s/%s\n' "$KERNEL_CACHE" "$1"
}

# headers_only_abis: the current ABI of each HEADERS_ONLY_META kernel, e.g. 6.1.0-57-amd64, one a
# line.
headers_only_abis() {
    local meta
    for meta in "${HEADERS_ONLY_META[@]}"; do
        current_abi "$meta" "$HEADERS_CACHE"
    done
}
