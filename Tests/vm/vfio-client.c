// vfio-client: proves a PCI device bound to a VFIO driver is usable, not just bound.
// Opens the device's IOMMU group, attaches it to a type1 container, gets the device fd and
// reads the vendor and device ids from config space through VFIO.
// Usage: vfio-client DDDD:BB:DD.F   prints "vendor=0xVVVV device=0xDDDD", exits 0.
//        vfio-client --hold DDDD:BB:DD.F   the same, then keeps the group and device fds open
//        until it is killed, as a VM's QEMU does (the in-use guard's scenarios).
// Built on the host with `gcc -static`; runs in the test guest (see scripts/vm/build-guest).
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int fail(const char *what) {
    fprintf(stderr, "vfio-client: %s: %s\n", what, strerror(errno));
    return 1;
}

// iommu_group ADDR: the device's IOMMU group number, or -1.
static int iommu_group(const char *addr) {
    char link[PATH_MAX], target[PATH_MAX];
    snprintf(link, sizeof link, "/sys/bus/pci/devices/%s/iommu_group", addr);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) return -1;
    target[n] = '\0';
    return atoi(basename(target));
}

// read_config FD OFFSET: a 16-bit little-endian config space word, or -1.
static int read_config16(int device, uint64_t region_offset, off_t offset) {
    uint8_t b[2];
    if (pread(device, b, sizeof b, (off_t)region_offset + offset) != (ssize_t)sizeof b) return -1;
    return b[0] | (b[1] << 8);
}

int main(int argc, char **argv) {
    bool hold = argc == 3 && strcmp(argv[1], "--hold") == 0;
    if (argc != 2 && !hold) {
        fprintf(stderr, "usage: vfio-client [--hold] DDDD:BB:DD.F\n");
        return 2;
    }
    const char *addr = argv[argc - 1];
    int group_no = iommu_group(addr);
    if (group_no < 0) return fail("no iommu_group link");

    int container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    if (container < 0) return fail("open /dev/vfio/vfio");
    if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) return fail("VFIO API version");
    if (!ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU)) {
        errno = ENODEV;
        return fail("no type1 IOMMU (is vfio_iommu_type1 loaded?)");
    }

    char path[64];
    snprintf(path, sizeof path, "/dev/vfio/%d", group_no);
    int group = open(path, O_RDWR | O_CLOEXEC);
    if (group < 0) return fail(path);
    struct vfio_group_status status = {.argsz = sizeof status};
    if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0) return fail("VFIO_GROUP_GET_STATUS");
    if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        errno = EBUSY;
        return fail("group not viable (a member is bound to a non-VFIO driver)");
    }
    if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0) return fail("VFIO_GROUP_SET_CONTAINER");
    if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0) return fail("VFIO_SET_IOMMU");

    int device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, addr);
    if (device < 0) return fail("VFIO_GROUP_GET_DEVICE_FD");
    struct vfio_region_info region = {.argsz = sizeof region, .index = VFIO_PCI_CONFIG_REGION_INDEX};
    if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &region) < 0) return fail("VFIO_DEVICE_GET_REGION_INFO");

    int vendor = read_config16(device, region.offset, 0);
    int device_id = read_config16(device, region.offset, 2);
    if (vendor < 0 || device_id < 0) return fail("read config space");
    printf("vendor=0x%04x device=0x%04x\n", vendor, device_id);
    fflush(stdout);
    if (hold) {
        for (;;) pause();
    }
    close(device);
    close(group);
    close(container);
    return 0;
}
