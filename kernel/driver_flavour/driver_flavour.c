// SPDX-License-Identifier: GPL-2.0
/*
 * driver_flavour: a "driver_flavour" request attribute for every PCI device.
 *
 * Writing a flavour name (for example "vfio") to
 * /sys/bus/pci/devices/<address>/driver_flavour stores it as a pending
 * request with the device's next sequence number and emits a KOBJ_CHANGE
 * uevent carrying DRIVER_FLAVOUR=<name> and DRIVER_FLAVOUR_SEQNUM=<n>.  The
 * driver-flavour daemon listens for that event and does the actual driver
 * selection and binding in userspace, then says how the request ended.
 * This module never binds or unbinds anything.
 *
 * Write rules (one trailing newline is ignored):
 *   - a name: 1 to 32 characters from [a-z0-9_-], not starting with '-';
 *     stored as pending with the next sequence number, and sent;
 *   - "none" is a request like a name (back to the default driver);
 *   - "done <n>": request n was carried out: it stays as the device's
 *     flavour, no longer pending ("none" is cleared); -EBUSY unless
 *     request n is the one pending.  No event;
 *   - "clear <n>": request n ended without being carried out (failed,
 *     rejected, replaced): the value is cleared; -EBUSY unless request n
 *     is the one pending.  No event;
 *   - "-<name>": the device no longer has flavour <name> (a revert or
 *     another request moved it): cleared if <name> is the stored value and
 *     no request is pending, else -EBUSY.  No event;
 *   - anything else fails with -EINVAL and sends no event.
 * The sequence number lets the daemon finish exactly the request it was
 * told about: a request written since then is never taken for it.
 *
 * Reading returns "<name> pending <n>" while request n waits for the
 * daemon, "<name>" once carried out, or an empty line; each followed by a
 * newline.  So after a restart the daemon tells a request still to be
 * done from one it did.
 *
 * Bridges (any header type but normal) get no attribute: flavourd binds
 * endpoint functions only, and a bridge's driver (pcieport) serves the
 * devices behind it.
 *
 * Each device gets its own dynamically allocated attribute embedded in a
 * struct df_entry, so show/store find their data with container_of() and
 * never need the registry lock.  device_remove_file() waits for running
 * show/store calls (kernfs active references), so an entry is freed only
 * after its file is gone.
 *
 * Copyright (C) 2025 driver-flavour developers
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/hashtable.h>
#include <linux/kobject.h>
#include <linux/lockdep.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#ifndef DRIVER_FLAVOUR_VERSION
#error "DRIVER_FLAVOUR_VERSION is not set: build with this directory's Makefile or DKMS (Kbuild)"
#endif

#define DF_ATTR_NAME		"driver_flavour"
#define DF_MAX_LEN		32
#define DF_ENV_KEY		"DRIVER_FLAVOUR="
#define DF_ENV_SEQ		"DRIVER_FLAVOUR_SEQNUM="
#define DF_VALUE_CLEAR		"none"
#define DF_CLEAR_IF		'-'
#define DF_DONE			"done "
#define DF_CLEAR		"clear "
#define DF_HASH_BITS		8

struct df_entry {
	struct hlist_node node;		/* in df_table, under df_registry_lock */
	struct device *dev;		/* holds a reference */
	struct device_attribute attr;
	struct mutex lock;		/* serialises the fields below and the uevent */
	char flavour[DF_MAX_LEN + 1];
	u64 seq;			/* of the last request stored */
	bool pending;			/* the daemon has not finished request seq */
};

static DEFINE_MUTEX(df_registry_lock);
static DEFINE_HASHTABLE(df_table, DF_HASH_BITS);
static bool df_shutting_down;

static bool df_valid_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* 1 to DF_MAX_LEN of [a-z0-9_-], not starting with '-' (compare-and-clear). */
static bool df_valid_name(const char *name, size_t len)
{
	size_t i;

	if (len < 1 || len > DF_MAX_LEN || name[0] == DF_CLEAR_IF)
		return false;
	for (i = 0; i < len; i++)
		if (!df_valid_char(name[i]))
			return false;
	return true;
}

static ssize_t df_show(struct device *dev, struct device_attribute *attr,
		       char *buf)
{
	struct df_entry *e = container_of(attr, struct df_entry, attr);
	ssize_t ret;

	mutex_lock(&e->lock);
	if (e->pending)
		ret = sysfs_emit(buf, "%s pending %llu\n", e->flavour, e->seq);
	else
		ret = sysfs_emit(buf, "%s\n", e->flavour);
	mutex_unlock(&e->lock);

	return ret;
}

static void df_clear_locked(struct df_entry *e)
{
	lockdep_assert_held(&e->lock);
	e->flavour[0] = '\0';
	e->pending = false;
}

/*
 * "done <n>" and "clear <n>": the daemon ends request n.  Returns -EINVAL
 * for another text, -EBUSY when request n is not the pending one.
 */
static ssize_t df_finish(struct df_entry *e, const char *text, size_t len,
			 size_t count)
{
	char number[DF_MAX_LEN + 1];
	const char *rest;
	bool done;
	u64 seq;
	ssize_t ret;

	if (len > strlen(DF_DONE) && !strncmp(text, DF_DONE, strlen(DF_DONE))) {
		done = true;
		rest = text + strlen(DF_DONE);
	} else if (len > strlen(DF_CLEAR) &&
		   !strncmp(text, DF_CLEAR, strlen(DF_CLEAR))) {
		done = false;
		rest = text + strlen(DF_CLEAR);
	} else {
		return -EINVAL;
	}
	len -= rest - text;
	if (len > DF_MAX_LEN || rest[0] < '0' || rest[0] > '9')
		return -EINVAL;
	memcpy(number, rest, len);
	number[len] = '\0';
	if (kstrtou64(number, 10, &seq))
		return -EINVAL;

	mutex_lock(&e->lock);
	if (!e->pending || e->seq != seq) {
		ret = -EBUSY;
	} else {
		if (done && strcmp(e->flavour, DF_VALUE_CLEAR))
			e->pending = false;
		else
			df_clear_locked(e);
		ret = count;
	}
	mutex_unlock(&e->lock);
	return ret;
}

static ssize_t df_store(struct device *dev, struct device_attribute *attr,
			const char *buf, size_t count)
{
	struct df_entry *e = container_of(attr, struct df_entry, attr);
	char env[sizeof(DF_ENV_KEY) + DF_MAX_LEN];
	char env_seq[sizeof(DF_ENV_SEQ) + 20];
	char *envp[3];
	char value[DF_MAX_LEN + 1];
	const char *name = buf;
	size_t len = count;
	bool clear_if;
	ssize_t ret;
	int err;

	if (len && buf[len - 1] == '\n')
		len--;
	if (memchr(buf, ' ', len))
		return df_finish(e, buf, len, count);
	clear_if = len && buf[0] == DF_CLEAR_IF;
	if (clear_if) {
		name++;
		len--;
	}
	if (!df_valid_name(name, len))
		return -EINVAL;
	memcpy(value, name, len);
	value[len] = '\0';

	mutex_lock(&e->lock);

	if (clear_if) {
		/* Only a request carried out; a pending one is the user's. */
		if (e->pending || strcmp(e->flavour, value)) {
			ret = -EBUSY;
		} else {
			df_clear_locked(e);
			ret = count;
		}
		goto out;
	}

	/*
	 * Send the event first and store the request only when it went out,
	 * so that the value never claims a request nobody was told about.
	 * Holding e->lock across the send keeps events in the same order as
	 * the stored values for concurrent writers.
	 */
	snprintf(env, sizeof(env), DF_ENV_KEY "%s", value);
	snprintf(env_seq, sizeof(env_seq), DF_ENV_SEQ "%llu", e->seq + 1);
	envp[0] = env;
	envp[1] = env_seq;
	envp[2] = NULL;
	err = kobject_uevent_env(&dev->kobj, KOBJ_CHANGE, envp);
	if (err) {
		ret = err;
		goto out;
	}

	e->seq++;
	strscpy(e->flavour, value, sizeof(e->flavour));
	e->pending = true;
	ret = count;

out:
	mutex_unlock(&e->lock);
	return ret;
}

static struct df_entry *df_find_locked(struct device *dev)
{
	struct df_entry *e;

	lockdep_assert_held(&df_registry_lock);

	hash_for_each_possible(df_table, e, node, (unsigned long)dev)
		if (e->dev == dev)
			return e;
	return NULL;
}

/* Only endpoint functions: a bridge's header type is not normal. */
static bool df_wanted(struct device *dev)
{
	return to_pci_dev(dev)->hdr_type == PCI_HEADER_TYPE_NORMAL;
}

static int df_add_locked(struct device *dev)
{
	struct df_entry *e;
	int ret;

	lockdep_assert_held(&df_registry_lock);

	if (df_find_locked(dev))
		return 0;

	e = kzalloc(sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;

	mutex_init(&e->lock);
	sysfs_attr_init(&e->attr.attr);
	e->attr.attr.name = DF_ATTR_NAME;
	e->attr.attr.mode = 0644;
	e->attr.show = df_show;
	e->attr.store = df_store;
	e->dev = get_device(dev);

	ret = device_create_file(dev, &e->attr);
	if (ret) {
		put_device(dev);
		mutex_destroy(&e->lock);
		kfree(e);
		return ret;
	}

	hash_add(df_table, &e->node, (unsigned long)dev);
	return 0;
}

static void df_remove_locked(struct df_entry *e)
{
	lockdep_assert_held(&df_registry_lock);

	hash_del(&e->node);
	/* Waits for show/store calls still running on this file. */
	if (device_is_registered(e->dev))
		device_remove_file(e->dev, &e->attr);
	put_device(e->dev);
	mutex_destroy(&e->lock);
	kfree(e);
}

/* A failure costs this one device its attribute, nothing more. */
static void df_add_or_warn_locked(struct device *dev)
{
	int ret = df_add_locked(dev);

	/* -ENOENT: the device's sysfs directory is gone (being deleted). */
	if (ret == -ENOENT)
		dev_dbg(dev, "cannot add %s attribute: %d\n", DF_ATTR_NAME, ret);
	else if (ret)
		dev_warn(dev, "cannot add %s attribute: %d\n", DF_ATTR_NAME, ret);
}

static int df_bus_notify(struct notifier_block *nb, unsigned long action,
			 void *data)
{
	struct device *dev = data;
	struct df_entry *e;

	/*
	 * Every PCI device's bind, unbind and attribute change comes through
	 * here: return before the lock for all that this module ignores.
	 */
	switch (action) {
	case BUS_NOTIFY_ADD_DEVICE:
	case BUS_NOTIFY_DEL_DEVICE:
	case BUS_NOTIFY_REMOVED_DEVICE:
		break;
	default:
		return NOTIFY_DONE;
	}
	if (!df_wanted(dev))
		return NOTIFY_DONE;

	mutex_lock(&df_registry_lock);

	if (df_shutting_down)
		goto out;

	if (action == BUS_NOTIFY_ADD_DEVICE) {
		df_add_or_warn_locked(dev);
	} else {
		/*
		 * device_del() sends DEL, takes the device off the bus's list,
		 * sends REMOVED and only then removes its sysfs directory.
		 * REMOVED catches an entry the load-time scan gave the device
		 * after its DEL.
		 */
		e = df_find_locked(dev);
		if (e)
			df_remove_locked(e);
	}

out:
	mutex_unlock(&df_registry_lock);
	return NOTIFY_DONE;
}

static struct notifier_block df_nb = {
	.notifier_call = df_bus_notify,
};

static int df_scan_one(struct device *dev, void *data)
{
	if (df_wanted(dev))
		df_add_or_warn_locked(dev);
	return 0;
}

static void df_teardown(void)
{
	struct hlist_node *tmp;
	struct df_entry *e;
	int bkt;

	/*
	 * Remove the files while the notifier is still registered: a
	 * concurrent device_del() then waits in df_bus_notify() for
	 * df_registry_lock, before the device's sysfs directory goes away.
	 */
	mutex_lock(&df_registry_lock);
	df_shutting_down = true;
	hash_for_each_safe(df_table, bkt, tmp, e, node)
		df_remove_locked(e);
	mutex_unlock(&df_registry_lock);

	bus_unregister_notifier(&pci_bus_type, &df_nb);
}

static int __init df_init(void)
{
	int ret;

	/*
	 * Register first, then scan under df_registry_lock.  A device added in
	 * between may be seen by both, and df_add_locked() ignores the second
	 * attempt.  A device being deleted cannot get past REMOVED, so keeps
	 * its sysfs directory, while the scan holds the lock; one already past
	 * it is off the bus's list and not visited.
	 */
	ret = bus_register_notifier(&pci_bus_type, &df_nb);
	if (ret)
		return ret;

	mutex_lock(&df_registry_lock);
	ret = bus_for_each_dev(&pci_bus_type, NULL, NULL, df_scan_one);
	mutex_unlock(&df_registry_lock);

	if (ret) {
		pr_err("cannot scan PCI devices: %d\n", ret);
		df_teardown();
		return ret;
	}

	pr_info("%s attribute added to PCI devices\n", DF_ATTR_NAME);
	return 0;
}

static void __exit df_exit(void)
{
	df_teardown();
	pr_info("%s attribute removed from PCI devices\n", DF_ATTR_NAME);
}

module_init(df_init);
module_exit(df_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("driver-flavour developers");
MODULE_DESCRIPTION("driver_flavour request attribute for PCI devices");
/* The package's version (debian/changelog), passed in by Kbuild. */
MODULE_VERSION(DRIVER_FLAVOUR_VERSION);
