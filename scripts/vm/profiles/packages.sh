# shellcheck shell=bash
# The packages' life on a running system: upgrade, remove, purge and install again, each through
# apt-get with systemd running (Tests/vm/scenarios/9x-package-*.sh). Removing the package would
# break the main guest's other scenarios, so these boot a guest of their own: virtio-net and
# e1000e to hold on VFIO drivers, nothing else.
profile_devices() {
    printf '%s\n' \
        -netdev hubport,id=n0,hubid=0 -device virtio-net-pci,netdev=n0,romfile=,disable-legacy=on \
        -netdev hubport,id=n1,hubid=1 -device e1000e,netdev=n1,romfile=
}
