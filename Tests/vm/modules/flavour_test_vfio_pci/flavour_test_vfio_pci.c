// SPDX-License-Identifier: GPL-2.0
/*
 * flavour_test_vfio_pci: a VFIO PCI variant driver used only by the
 * driver-flavour real-kernel tests.
 *
 * It claims the e1000e function that QEMU emulates (8086:10d3) through an
 * override_only id table, so it is found via the "vfio_pci:" module alias
 * and probed only when the device's driver_override names it.  Underneath
 * it is plain vfio-pci core: a bound device is usable through
 * /dev/vfio/<group>.
 *
 * The fail_probe parameter (writable at runtime through
 * /sys/module/flavour_test_vfio_pci/parameters/fail_probe) makes probe
 * fail with -EIO, to exercise the daemon's fallback path.
 *
 * The block_remove parameter makes remove, and so every unbind of a device
 * from this driver, wait until it is set back to 0: a driver whose unbind
 * does not return, for the daemon's stuck-driver handling and for tests
 * that need a bind held in the kernel.
 *
 * Needs Linux 6.6 or later (vfio_alloc_device() and the iommufd
 * detach_ioas callback); the tests run it on Debian's 6.12 kernel.
 *
 * Copyright (C) 2025 driver-flavour developers
 */

#include <linux/module.h>
#include <linux/pci.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>
#include <linux/wait.h>

static bool fail_probe;
module_param(fail_probe, bool, 0644);
MODULE_PARM_DESC(fail_probe, "Make probe fail with -EIO (default: false)");

static bool block_remove;
static DECLARE_WAIT_QUEUE_HEAD(ftvp_remove_wq);

/* Setting block_remove back to 0 releases every remove waiting for it. */
static int ftvp_set_block_remove(const char *val, const struct kernel_param *kp)
{
	int ret = param_set_bool(val, kp);

	if (!ret && !READ_ONCE(block_remove))
		wake_up_all(&ftvp_remove_wq);
	return ret;
}

static const struct kernel_param_ops ftvp_block_remove_ops = {
	.set	= ftvp_set_block_remove,
	.get	= param_get_bool,
};
module_param_cb(block_remove, &ftvp_block_remove_ops, &block_remove, 0644);
MODULE_PARM_DESC(block_remove, "Make remove (unbind) wait until this is set back to 0 (default: false)");

static int ftvp_open_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_core_device *vdev =
		container_of(core_vdev, struct vfio_pci_core_device, vdev);
	int ret;

	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;

	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static const struct vfio_device_ops ftvp_ops = {
	.name		= "flavour-test-vfio-pci",
	.init		= vfio_pci_core_init_dev,
	.release	= vfio_pci_core_release_dev,
	.open_device	= ftvp_open_device,
	.close_device	= vfio_pci_core_close_device,
	.ioctl		= vfio_pci_core_ioctl,
	.device_feature	= vfio_pci_core_ioctl_feature,
	.read		= vfio_pci_core_read,
	.write		= vfio_pci_core_write,
	.mmap		= vfio_pci_core_mmap,
	.request	= vfio_pci_core_request,
	.match		= vfio_pci_core_match,
	.bind_iommufd	= vfio_iommufd_physical_bind,
	.unbind_iommufd	= vfio_iommufd_physical_unbind,
	.attach_ioas	= vfio_iommufd_physical_attach_ioas,
	.detach_ioas	= vfio_iommufd_physical_detach_ioas,
};

static int ftvp_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vfio_pci_core_device *vdev;
	int ret;

	if (READ_ONCE(fail_probe)) {
		dev_info(&pdev->dev, "failing probe on purpose (fail_probe=1)\n");
		return -EIO;
	}

	vdev = vfio_alloc_device(vfio_pci_core_device, vdev, &pdev->dev,
				 &ftvp_ops);
	if (IS_ERR(vdev))
		return PTR_ERR(vdev);

	dev_set_drvdata(&pdev->dev, vdev);
	ret = vfio_pci_core_register_device(vdev);
	if (ret) {
		vfio_put_device(&vdev->vdev);
		return ret;
	}

	return 0;
}

static void ftvp_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);

	if (READ_ONCE(block_remove)) {
		dev_info(&pdev->dev, "remove blocked until block_remove=0\n");
		/* TASK_IDLE: a long wait here is the point, not a hung task. */
		wait_event_idle(ftvp_remove_wq, !READ_ONCE(block_remove));
		dev_info(&pdev->dev, "remove released\n");
	}
	vfio_pci_core_unregister_device(vdev);
	vfio_put_device(&vdev->vdev);
}

static const struct pci_device_id ftvp_table[] = {
	/* The e1000e (82574L) function emulated by QEMU */
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_VENDOR_ID_INTEL, 0x10d3) },
	{}
};
MODULE_DEVICE_TABLE(pci, ftvp_table);

static struct pci_driver ftvp_driver = {
	.name			= "flavour-test-vfio-pci",
	.id_table		= ftvp_table,
	.probe			= ftvp_probe,
	.remove			= ftvp_remove,
	.err_handler		= &vfio_pci_core_err_handlers,
	.driver_managed_dma	= true,
};
module_pci_driver(ftvp_driver);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("driver-flavour developers");
MODULE_DESCRIPTION("Test-only VFIO PCI variant driver for driver-flavour (QEMU e1000e)");
