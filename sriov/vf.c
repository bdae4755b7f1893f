// SPDX-License-Identifier: Apache-2.0
/* Finding a VF through sysfs, as the reference sriov-cni does, and the PF-side backends: netlink
 * and the fake file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/json/json.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "lib/util/sysfs.h"
#include "sriov/sriov.h"

#define PCI_DEVICES "/sys/bus/pci/devices"
#define FAKE_PF_FILE "plexus-fake-pf.json"

bool sriov_driver_is_dpdk(const char *driver)
{
	return driver && (!strcmp(driver, "vfio-pci") || !strcmp(driver, "igb_uio") ||
			  !strcmp(driver, "uio_pci_generic"));
}

void sriov_vf_done(struct sriov_vf *vf)
{
	free(vf->pf_ifname);
	free(vf->ifname);
	free(vf->driver);
	memset(vf, 0, sizeof(*vf));
}

int sriov_vf_netdev(const char *bdf, char **ret)
{
	_cleanup_free_ char *net = sysfs_path(PCI_DEVICES "/%s/net", bdf);
	return sysfs_dir_single(net, ret);
}

/* The N of the PF's virtfnN link that points at bdf. */
static int find_vf_index(const char *pf_bdf, const char *bdf, uint32_t *ret)
{
	_cleanup_free_ char *dir = sysfs_path(PCI_DEVICES "/%s", pf_bdf);
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int r = -ENOENT;
	struct dirent *e;
	while (r == -ENOENT && (e = readdir(d))) {
		uint64_t n;
		if (strncmp(e->d_name, "virtfn", 6) || parse_u64(e->d_name + 6, UINT32_MAX, &n) < 0)
			continue;
		_cleanup_free_ char *link = xasprintf("%s/%s", dir, e->d_name);
		_cleanup_free_ char *target = NULL;
		if (sysfs_link_basename(link, &target) == 0 && strcmp(target, bdf) == 0) {
			*ret = (uint32_t)n;
			r = 0;
		}
	}
	(void)closedir(d);
	return r;
}

int sriov_vf_locate(const char *bdf, bool need_netdev, struct sriov_vf *ret, struct cni_err *err)
{
	struct sriov_vf vf = { 0 };
	int r;
	(void)snprintf(vf.bdf, sizeof(vf.bdf), "%s", bdf);
	_cleanup_free_ char *dev = sysfs_path(PCI_DEVICES "/%s", bdf);
	if (!sysfs_exists(dev))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, ENODEV,
				   "deviceID: no PCI device '%s'", bdf);
	_cleanup_free_ char *physfn = xasprintf("%s/physfn", dev);
	_cleanup_free_ char *pf = NULL;
	r = sysfs_link_basename(physfn, &pf);
	if (r < 0 || strlen(pf) >= sizeof(vf.pf_bdf))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, r < 0 ? -r : EINVAL,
				   "deviceID: PCI device '%s' is not an SR-IOV VF (no physfn link)",
				   bdf);
	memcpy(vf.pf_bdf, pf, strlen(pf) + 1);
	r = find_vf_index(vf.pf_bdf, bdf, &vf.index);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, -r,
				   "deviceID: PF '%s' has no virtfn link to VF '%s'", vf.pf_bdf,
				   bdf);
	_cleanup_free_ char *pf_net = sysfs_path(PCI_DEVICES "/%s/net", vf.pf_bdf);
	r = sysfs_dir_single(pf_net, &vf.pf_ifname);
	if (r < 0 && r != -ENOENT) {
		sriov_vf_done(&vf);
		return cni_err_set(err, CNI_ERR_DEVICE, -r, "deviceID: PF '%s': read '%s': %s",
				   vf.pf_bdf, pf_net, strerror(-r));
	}
	_cleanup_free_ char *drv = xasprintf("%s/driver", dev);
	(void)sysfs_link_basename(drv, &vf.driver);
	r = sriov_vf_netdev(bdf, &vf.ifname);
	if (r == -ENOTUNIQ) {
		sriov_vf_done(&vf);
		return cni_err_set(err, CNI_ERR_DEVICE, ENOTUNIQ,
				   "deviceID: VF '%s' has several netdevs", bdf);
	}
	if (!vf.ifname) {
		if (need_netdev && !sriov_driver_is_dpdk(vf.driver)) {
			r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, ENODEV,
					"deviceID: VF '%s' has no netdev and driver '%s' is not a "
					"DPDK driver (vfio-pci, igb_uio, uio_pci_generic)",
					bdf, vf.driver ? vf.driver : "(none)");
			sriov_vf_done(&vf);
			return r;
		}
		vf.dpdk = sriov_driver_is_dpdk(vf.driver);
	}
	*ret = vf;
	return 0;
}

/* ---- netlink backend: the PF netdev in the current (host) netns ---------------------------- */

static int pf_open(const struct sriov_vf *vf, struct nl_sock **ret_sk, int *ret_ifindex,
		   struct cni_err *err)
{
	if (!vf->pf_ifname)
		return cni_err_set(err, CNI_ERR_DEVICE, ENODEV,
				   "deviceID: PF '%s' of VF '%s' has no netdev", vf->pf_bdf,
				   vf->bdf);
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_sock_link_open(vf->pf_ifname, &sk, &link, err);
	if (r < 0)
		return cni_err_wrap(err, "PF of VF '%s'", vf->bdf);
	*ret_ifindex = rtnl_link_get_ifindex(link);
	*ret_sk = TAKE_PTR(sk);
	return 0;
}

static int nl_get(const struct sriov_vf *vf, struct net_vf_state *ret, struct cni_err *err)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int ifindex;
	int r = pf_open(vf, &sk, &ifindex, err);
	if (r < 0)
		return r;
	r = net_vf_get(sk, ifindex, vf->index, ret, err);
	return r < 0 ? cni_err_wrap(err, "PF '%s'", vf->pf_ifname) : 0;
}

static int nl_set(const struct sriov_vf *vf, unsigned mask, const struct net_vf_state *s,
		  struct cni_err *err)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int ifindex;
	int r = pf_open(vf, &sk, &ifindex, err);
	if (r < 0)
		return r;
	r = net_vf_set(sk, ifindex, vf->index, mask, s, err);
	return r < 0 ? cni_err_wrap(err, "PF '%s'", vf->pf_ifname) : 0;
}

static const struct sriov_pf_ops pf_netlink = { .name = "netlink", .get = nl_get, .set = nl_set };

/* ---- fake backend: VF settings kept in <PF sysfs dir>/plexus-fake-pf.json ----------------- */

static char *fake_path(const struct sriov_vf *vf, const char *file)
{
	return sysfs_path(PCI_DEVICES "/%s/%s", vf->pf_bdf, file);
}

static int fake_load(const struct sriov_vf *vf, cJSON **ret, struct cni_err *err)
{
	_cleanup_free_ char *path = fake_path(vf, FAKE_PF_FILE);
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = file_read_all(path, 1 << 20, &text, &len);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "fake PF: read '%s': %s", path,
				   strerror(-r));
	return json_parse(text, len, "fake PF file", ret, err);
}

static int fake_get(const struct sriov_vf *vf, struct net_vf_state *ret, struct cni_err *err)
{
	_cleanup_json_ cJSON *root = NULL;
	int r = fake_load(vf, &root, err);
	if (r < 0)
		return r;
	char key[16];
	(void)snprintf(key, sizeof(key), "%u", vf->index);
	const cJSON *e = json_get(json_get(root, "vfs"), key);
	/* A VF without an entry has the kernel's defaults. */
	struct net_vf_state s = { .has = NET_VF_MAC | NET_VF_VLAN | NET_VF_SPOOFCHK | NET_VF_TRUST |
					 NET_VF_RATE | NET_VF_LINK_STATE,
				  .proto = ETH_P_8021Q,
				  .spoofchk = true };
	const cJSON *v;
	if ((v = json_get(e, "mac")) && cJSON_IsString(v) && parse_mac(v->valuestring, s.mac) < 0)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "fake PF: bad mac");
	if ((v = json_get(e, "vlan")) && cJSON_IsNumber(v))
		s.vlan = (uint32_t)v->valuedouble;
	if ((v = json_get(e, "qos")) && cJSON_IsNumber(v))
		s.qos = (uint32_t)v->valuedouble;
	if ((v = json_get(e, "proto")) && cJSON_IsString(v))
		s.proto = strcmp(v->valuestring, "802.1ad") == 0 ? ETH_P_8021AD : ETH_P_8021Q;
	if ((v = json_get(e, "spoofchk")))
		s.spoofchk = cJSON_IsTrue(v);
	if ((v = json_get(e, "trust")))
		s.trust = cJSON_IsTrue(v);
	if ((v = json_get(e, "min_tx_rate")) && cJSON_IsNumber(v))
		s.min_rate = (uint32_t)v->valuedouble;
	if ((v = json_get(e, "max_tx_rate")) && cJSON_IsNumber(v))
		s.max_rate = (uint32_t)v->valuedouble;
	if ((v = json_get(e, "link_state")) && cJSON_IsNumber(v))
		s.link_state = (uint32_t)v->valuedouble;
	*ret = s;
	return 0;
}

static void json_set(cJSON *obj, const char *key, cJSON *val)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, key))
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, val);
	else
		cJSON_AddItemToObject(obj, key, val);
}

static int fake_set(const struct sriov_vf *vf, unsigned mask, const struct net_vf_state *s,
		    struct cni_err *err)
{
	_cleanup_json_ cJSON *root = NULL;
	int r = fake_load(vf, &root, err);
	if (r < 0)
		return r;
	/* Test knob: make every PF-side change fail like a driver refusing it. */
	if (cJSON_IsTrue(json_get(root, "fail_set")))
		return cni_err_set(err, CNI_ERR_NETLINK, EOPNOTSUPP,
				   "set VF %u of PF '%s': Operation not supported", vf->index,
				   vf->pf_ifname ? vf->pf_ifname : vf->pf_bdf);
	cJSON *vfs = (cJSON *)json_get(root, "vfs");
	if (!vfs) {
		vfs = cJSON_CreateObject();
		json_set(root, "vfs", vfs);
	}
	char key[16], mac[MAC_STR_LEN];
	(void)snprintf(key, sizeof(key), "%u", vf->index);
	cJSON *e = (cJSON *)json_get(vfs, key);
	if (!e) {
		e = cJSON_CreateObject();
		json_set(vfs, key, e);
	}
	_cleanup_free_ char *line = xasprintf("set vf %u", vf->index);
	char *tmp;
	if (mask & NET_VF_MAC) {
		format_mac(s->mac, mac);
		json_set(e, "mac", cJSON_CreateString(mac));
		tmp = xasprintf("%s mac=%s", line, mac);
		free(line);
		line = tmp;
	}
	if (mask & NET_VF_VLAN) {
		json_set(e, "vlan", cJSON_CreateNumber(s->vlan));
		json_set(e, "qos", cJSON_CreateNumber(s->qos));
		json_set(e, "proto",
			 cJSON_CreateString(s->proto == ETH_P_8021AD ? "802.1ad" : "802.1q"));
		tmp = xasprintf("%s vlan=%u qos=%u proto=0x%04x", line, s->vlan, s->qos, s->proto);
		free(line);
		line = tmp;
	}
	if (mask & NET_VF_SPOOFCHK) {
		json_set(e, "spoofchk", cJSON_CreateBool(s->spoofchk));
		tmp = xasprintf("%s spoofchk=%d", line, s->spoofchk);
		free(line);
		line = tmp;
	}
	if (mask & NET_VF_TRUST) {
		json_set(e, "trust", cJSON_CreateBool(s->trust));
		tmp = xasprintf("%s trust=%d", line, s->trust);
		free(line);
		line = tmp;
	}
	if (mask & NET_VF_RATE) {
		json_set(e, "min_tx_rate", cJSON_CreateNumber(s->min_rate));
		json_set(e, "max_tx_rate", cJSON_CreateNumber(s->max_rate));
		tmp = xasprintf("%s min=%u max=%u", line, s->min_rate, s->max_rate);
		free(line);
		line = tmp;
	}
	if (mask & NET_VF_LINK_STATE) {
		json_set(e, "link_state", cJSON_CreateNumber(s->link_state));
		tmp = xasprintf("%s link_state=%u", line, s->link_state);
		free(line);
		line = tmp;
	}
	_cleanup_free_ char *text = json_print(root);
	_cleanup_free_ char *path = fake_path(vf, FAKE_PF_FILE);
	r = file_write_atomic(path, text, strlen(text), 0644);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "fake PF: write '%s': %s", path,
				   strerror(-r));
	/* The record of every change, for tests to assert the order and content. */
	_cleanup_free_ char *log = fake_path(vf, "plexus-fake-pf.log");
	FILE *f = fopen(log, "ae");
	if (f) {
		(void)fprintf(f, "%s\n", line);
		(void)fclose(f);
	}
	return 0;
}

static const struct sriov_pf_ops pf_fake = { .name = "fake", .get = fake_get, .set = fake_set };

const struct sriov_pf_ops *sriov_pf_ops_for(const struct sriov_vf *vf)
{
	if (sysfs_root_is_real())
		return &pf_netlink;
	_cleanup_free_ char *path = fake_path(vf, FAKE_PF_FILE);
	return sysfs_exists(path) ? &pf_fake : &pf_netlink;
}
