# shellcheck shell=bash
# A host whose boot needs a disk that only udev's coldplug trigger brings (HOST-FACTS.md, "Boot"):
# a SATA disk on q35's AHCI controller, mounted from /etc/fstab, while the initramfs does not
# load ahci (blacklisted there only). In the real root, ahci loads when
# systemd-udev-trigger.service replays the add events; the mount, and local-fs.target with it,
# wait for that. A unit ordered before the trigger and after local-fs.target deadlocks the boot.
# Plus an e1000e whose driver the initramfs does not load either, under a standing request in
# the root's configuration: flavourd must hold it for its VFIO driver before the trigger
# loads e1000e.
PROFILE_TIMEOUT=420

profile_prepare() {
    local dir=$1
    mke2fs -q -F -t ext4 -L flavour-late "$dir/late.img" 16M
    # A mount as a real fstab has it: no nofail, so local-fs.target requires it. The device
    # timeout is cut from 90 s to 30 s so that a boot that deadlocks fails sooner.
    printf '%s\n' "LABEL=flavour-late /srv/late ext4 defaults,x-systemd.device-timeout=30s 0 0" >"$dir/fstab"
    printf '%s\n' "blacklist ahci" "blacklist e1000e" >"$dir/initrd-blacklist.conf"
    printf '%s\n' "# The late-mount guest's e1000e, held for VFIO from boot on." "request vfio pci:v00008086d000010D3*" >"$dir/boot.conf"
}

profile_devices() {
    printf '%s\n' -drive "file=$1/late.img,if=none,id=late,format=raw" -device ide-hd,drive=late,bus=ide.0 \
        -netdev hubport,id=n1,hubid=1 -device e1000e,netdev=n1,romfile=
}

profile_root_files() {
    echo "/etc/fstab $1/fstab"
    echo "/etc/driver-flavour.d/50-vmtest-boot.conf $1/boot.conf"
}

profile_initrd_files() {
    echo "etc/modprobe.d/flavour-vmtest-late.conf $1/initrd-blacklist.conf"
}
