# shellcheck shell=bash
# A host whose boot needs a disk that only udev's coldplug trigger brings (HOST-FACTS.md, "Boot"):
# a SATA disk on q35's AHCI controller, mounted from /etc/fstab, while the initramfs does not
# load ahci (blacklisted there only). In the real root, ahci loads when
# systemd-udev-trigger.service replays the add events; the mount, and local-fs.target with it,
# wait for that. A unit ordered before the trigger and after local-fs.target deadlocks the boot.
PROFILE_TIMEOUT=420

profile_prepare() {
    local dir=$1
    mke2fs -q -F -t ext4 -L flavour-late "$dir/late.img" 16M
    # A mount as a real fstab has it: no nofail, so local-fs.target requires it. The device
    # timeout is cut from 90 s to 30 s so that a boot that deadlocks fails sooner.
    printf '%s\n' "LABEL=flavour-late /srv/late ext4 defaults,x-systemd.device-timeout=30s 0 0" >"$dir/fstab"
    echo "blacklist ahci" >"$dir/initrd-no-ahci.conf"
}

profile_devices() {
    printf '%s\n' -drive "file=$1/late.img,if=none,id=late,format=raw" -device ide-hd,drive=late,bus=ide.0
}

profile_root_files() {
    echo "/etc/fstab $1/fstab"
}

profile_initrd_files() {
    echo "etc/modprobe.d/flavour-vmtest-no-ahci.conf $1/initrd-no-ahci.conf"
}
