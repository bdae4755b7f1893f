// SPDX-License-Identifier: Apache-2.0
/* SR-IOV VF discovery: PFs and virtfnN links under <root>/sys/bus/pci/devices, names via libpci. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pci/pci.h>

#include "device-plugin/devices.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "lib/util/parse.h"
#include "lib/util/sysfs.h"

#define PCI_DEVICES "/sys/bus/pci/devices"

static void closedirp(DIR **d)
{
	if (*d)
		(void)closedir(*d);
}

/* First line of <dir>/<name>, trimmed, into buf. */
static int read_attr(const char *dir, const char *name, char *buf, size_t size)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = file_read_all(path, 4096, &text, &len);
	if (r < 0)
		return r;
	char *s = text;
	while (isspace((unsigned char)*s))
		s++;
	size_t k = strcspn(s, "\r\n");
	while (k > 0 && isspace((unsigned char)s[k - 1]))
		k--;
	if (k >= size)
		return -ENAMETOOLONG;
	memcpy(buf, s, k);
	buf[k] = '\0';
	return 0;
}

/* "0x8086" -> "8086" (lower case). */
static int read_id(const char *dir, const char *name, char out[8])
{
	char buf[32];
	int r = read_attr(dir, name, buf, sizeof(buf));
	if (r < 0)
		return r;
	const char *s = strncasecmp(buf, "0x", 2) == 0 ? buf + 2 : buf;
	if (strlen(s) != 4 || strspn(s, "0123456789abcdefABCDEF") != 4)
		return -EINVAL;
	for (int i = 0; i < 4; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[4] = '\0';
	return 0;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t k = src ? strnlen(src, size - 1) : 0;
	memcpy(dst, src ? src : "", k);
	dst[k] = '\0';
}

/* The device's only netdev name into buf ("" when none or several). */
static void read_netdev(const char *dev, char *buf, size_t size)
{
	_cleanup_free_ char *net = xasprintf("%s/net", dev);
	_cleanup_free_ char *name = NULL;
	buf[0] = '\0';
	if (sysfs_dir_single(net, &name) == 0 && strlen(name) < size)
		copy_str(buf, size, name);
}

/* ARPHRD type of <dev>/net/<ifname>/type as a selector string. */
static void read_link_type(const char *dev, const char *ifname, char *buf, size_t size)
{
	char t[16];
	buf[0] = '\0';
	if (!ifname[0])
		return;
	_cleanup_free_ char *dir = xasprintf("%s/net/%s", dev, ifname);
	if (read_attr(dir, "type", t, sizeof(t)) < 0)
		return;
	if (!strcmp(t, "1"))
		copy_str(buf, size, "ether");
	else if (!strcmp(t, "32"))
		copy_str(buf, size, "infiniband");
	else
		copy_str(buf, size, t);
}

static int read_vf(const char *pf_dir, const char *pf_bdf, const char *pf_ifname,
		   const char *pf_link_type, const char *link, int index, struct dp_vf *vf)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", pf_dir, link);
	_cleanup_free_ char *bdf = NULL;
	int r = sysfs_link_basename(path, &bdf);
	if (r < 0)
		return r;
	if (strlen(bdf) >= sizeof(vf->bdf))
		return -ENAMETOOLONG;
	memset(vf, 0, sizeof(*vf));
	copy_str(vf->bdf, sizeof(vf->bdf), bdf);
	copy_str(vf->pf_bdf, sizeof(vf->pf_bdf), pf_bdf);
	copy_str(vf->pf_ifname, sizeof(vf->pf_ifname), pf_ifname);
	vf->vf_index = index;
	vf->numa_node = -1;
	vf->iommu_group = -1;
	vf->healthy = true;

	_cleanup_free_ char *dev = sysfs_path(PCI_DEVICES "/%s", bdf);
	if (read_id(dev, "vendor", vf->vendor) < 0 || read_id(dev, "device", vf->device) < 0)
		log_debug("vf '%s': no vendor/device id in sysfs", bdf);

	_cleanup_free_ char *drv_link = xasprintf("%s/driver", dev);
	_cleanup_free_ char *drv = NULL;
	if (sysfs_link_basename(drv_link, &drv) == 0)
		copy_str(vf->driver, sizeof(vf->driver), drv);

	read_netdev(dev, vf->ifname, sizeof(vf->ifname));
	read_link_type(dev, vf->ifname, vf->link_type, sizeof(vf->link_type));
	/* A VF bound to vfio-pci has no netdev: its link type is its PF's. */
	if (!vf->link_type[0])
		copy_str(vf->link_type, sizeof(vf->link_type), pf_link_type);

	char numa[32];
	int64_t node;
	if (read_attr(dev, "numa_node", numa, sizeof(numa)) == 0 &&
	    parse_i64(numa, INT32_MIN, INT32_MAX, &node) == 0 && node >= 0)
		vf->numa_node = (int)node;

	_cleanup_free_ char *grp_link = xasprintf("%s/iommu_group", dev);
	_cleanup_free_ char *grp = NULL;
	uint64_t g;
	if (sysfs_link_basename(grp_link, &grp) == 0 && parse_u64(grp, INT32_MAX, &g) == 0)
		vf->iommu_group = (int)g;

	_cleanup_free_ char *ib = xasprintf("%s/infiniband", dev);
	vf->rdma = sysfs_exists(ib);
	return 0;
}

static int cmp_vf(const void *a, const void *b)
{
	return strcmp(((const struct dp_vf *)a)->bdf, ((const struct dp_vf *)b)->bdf);
}

/* Append the VFs of PF pf_bdf to *vfs. */
static void scan_pf(const char *pf_bdf, const char *skip, struct dp_vf **vfs, size_t *n,
		    size_t *cap)
{
	_cleanup_free_ char *dir = sysfs_path(PCI_DEVICES "/%s", pf_bdf);
	char numvfs[32], ifname[IFNAMSIZ], link_type[16];
	uint64_t nvf;

	if (read_attr(dir, "sriov_numvfs", numvfs, sizeof(numvfs)) < 0 ||
	    parse_u64(numvfs, 65535, &nvf) < 0 || nvf == 0)
		return;
	read_netdev(dir, ifname, sizeof(ifname));
	if (skip && skip[0] && !strcmp(ifname, skip)) {
		log_info("pf '%s' ('%s') carries the default route, skipping its vfs", pf_bdf,
			 ifname);
		return;
	}
	read_link_type(dir, ifname, link_type, sizeof(link_type));

	_cleanup_(closedirp) DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		uint64_t idx;
		if (strncmp(e->d_name, "virtfn", 6) || parse_u64(e->d_name + 6, 65535, &idx) < 0)
			continue;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*vfs = xrealloc(*vfs, *cap * sizeof(**vfs));
		}
		int r = read_vf(dir, pf_bdf, ifname, link_type, e->d_name, (int)idx, &(*vfs)[*n]);
		if (r < 0)
			log_debug("pf '%s': %s unreadable (%s), ignoring", pf_bdf, e->d_name,
				  strerror(-r));
		else
			(*n)++;
	}
}

int dp_discover(const char *skip_pf_ifname, struct dp_vf **ret, size_t *ret_n, struct cni_err *err)
{
	_cleanup_free_ char *devs = sysfs_path(PCI_DEVICES);
	_cleanup_(closedirp) DIR *d = opendir(devs);
	if (!d)
		return cni_err_set(err, CNI_ERR_DEVICE, errno, "discovery: cannot read '%s'", devs);

	_cleanup_free_ struct dp_vf *vfs = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		scan_pf(e->d_name, skip_pf_ifname, &vfs, &n, &cap);
	}
	if (n)
		qsort(vfs, n, sizeof(*vfs), cmp_vf);
	*ret = n ? TAKE_PTR(vfs) : NULL;
	*ret_n = n;
	return 0;
}

static pthread_mutex_t pci_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pci_access *pci_acc;

static void pci_quiet(char *msg, ...)
{
	(void)msg;
}

/* libpci calls this on fatal errors (allocation) and expects it not to return. */
static void __attribute__((noreturn)) pci_fatal(char *msg, ...)
{
	(void)msg;
	abort();
}

const char *dp_pci_name(const struct dp_vf *vf, char *buf, size_t size)
{
	unsigned int ven = (unsigned int)strtoul(vf->vendor, NULL, 16);
	unsigned int dev = (unsigned int)strtoul(vf->device, NULL, 16);

	/* Only the ID database is used: no pci_init(), so libpci never touches real devices
	 * (the tree may be a fake one under PLEXUS_SYSFS_ROOT). */
	(void)pthread_mutex_lock(&pci_lock);
	if (!pci_acc) {
		pci_acc = pci_alloc();
		pci_acc->error = pci_fatal;
		pci_acc->warning = pci_quiet;
		pci_acc->debug = pci_quiet;
	}
	/* pci.ids only: libpci's udev hwdb lookup leaks a udev context (16 bytes) at every ID
	 * pci.ids does not know, which adds up in a daemon that rediscovers. */
	char *s = pci_lookup_name(pci_acc, buf, (int)size,
				  PCI_LOOKUP_VENDOR | PCI_LOOKUP_DEVICE | PCI_LOOKUP_NO_HWDB, ven,
				  dev);
	if (!s)
		(void)snprintf(buf, size, "%s:%s", vf->vendor, vf->device);
	(void)pthread_mutex_unlock(&pci_lock);
	return buf;
}

bool dp_driver_is_vfio(const struct dp_vf *vf)
{
	return !strcmp(vf->driver, "vfio-pci");
}

bool dp_driver_is_uio(const struct dp_vf *vf)
{
	return !strcmp(vf->driver, "igb_uio") || !strcmp(vf->driver, "uio_pci_generic");
}
