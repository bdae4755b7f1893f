// SPDX-License-Identifier: Apache-2.0
/* sriov state: per-VF lock, allocation records and the per-attachment cache. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cni/args.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "sriov/sriov.h"

static const char *state_dir(void)
{
	const char *d = secure_getenv("PLEXUS_STATE_DIR");
	return d && *d ? d : "/var/lib/cni/plexus/sriov";
}

static int mkdir_state(const char *sub, struct cni_err *err)
{
	_cleanup_free_ char *dir = xasprintf("%s%s", state_dir(), sub);
	int r = file_mkdir_p(dir, 0700);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "create state dir '%s': %s", dir,
				   strerror(-r));
	return 0;
}

/* Replace path crash-safe (file_write_durable): DEL restores the VF from these records, so they
 * must survive a power loss too (the VF settings live on in the PF). */
static int write_durable(const char *path, const char *text, struct cni_err *err)
{
	int r = file_write_durable(path, text, strlen(text), 0600);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "write '%s': %s", path, strerror(-r));
	return 0;
}

void sriov_record_remove(const char *path)
{
	if (unlink(path) < 0 && errno != ENOENT)
		log_warning("remove '%s': %m, ignoring", path);
	(void)file_unlink_temps(path, false);
}

int sriov_lock(const char *bdf, int *ret_fd, struct cni_err *err)
{
	int r = mkdir_state("", err);
	if (r < 0)
		return r;
	_cleanup_free_ char *path = xasprintf("%s/%s.lock", state_dir(), bdf);
	int fd = file_lock(path);
	if (fd < 0)
		return cni_err_set(err, CNI_ERR_IO, -fd, "lock '%s': %s", path, strerror(-fd));
	*ret_fd = fd;
	return 0;
}

static char *record_path(const char *bdf)
{
	return xasprintf("%s/pci/%s", state_dir(), bdf);
}

/* The netns an allocation record names: its "netns" key, or the whole text (the plain path an
 * older plexus wrote); NULL for a record cut by a power loss (borrowed from o or text). */
static const char *record_netns(char *text, size_t len, cJSON **o)
{
	if (text[0] != '{') {
		text[strcspn(text, "\n")] = '\0';
		return text;
	}
	struct cni_err e = { 0 };
	const char *netns = NULL;
	if (json_parse(text, len, "allocation record", o, &e) < 0 ||
	    json_get_string(*o, "netns", "netns", &netns, NULL, &e) < 0)
		return NULL;
	return netns;
}

int sriov_alloc_check(const char *bdf, struct cni_err *err)
{
	_cleanup_free_ char *path = record_path(bdf);
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = file_read_all(path, 1 << 16, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "read '%s': %s", path, strerror(-r));
	_cleanup_json_ cJSON *o = NULL;
	const char *netns = record_netns(text, len, &o);
	struct stat st;
	/* The record of a pod whose netns is gone is stale: its DEL will not come in time. A
	 * record cut by a power loss names no netns: its cache (if any) still lets DEL run. */
	if (!netns || !*netns || stat(netns, &st) < 0) {
		log_info("allocation of '%s' by gone netns '%s' is stale, ignoring", bdf,
			 netns ? netns : "(unreadable)");
		return 0;
	}
	return cni_err_set(err, CNI_ERR_DEVICE, EBUSY,
			   "pci address %s is already allocated (netns '%s')", bdf, netns);
}

/* The allocation record of bdf, when it is of the JSON form: its tree (owned) and the
 * attachment it names (borrowed from the tree, only names a CNI runtime could have passed, as
 * they make a cache's path). */
static int record_owner(const char *bdf, cJSON **ret, const char **ret_cid, const char **ret_ifname)
{
	_cleanup_free_ char *path = record_path(bdf);
	_cleanup_free_ char *text = NULL;
	size_t len;
	if (file_read_all(path, 1 << 16, &text, &len) < 0 || text[0] != '{')
		return -ENOENT;
	struct cni_err e = { 0 };
	cJSON *o = NULL;
	if (json_parse(text, len, "allocation record", &o, &e) < 0)
		return -EBADMSG;
	const char *cid = cJSON_GetStringValue(json_get(o, "containerID"));
	const char *ifname = cJSON_GetStringValue(json_get(o, "ifname"));
	if (!cid || !ifname || cni_validate_container_id(cid, 0, NULL) < 0 ||
	    cni_validate_ifname(ifname, 0, NULL) < 0) {
		cJSON_Delete(o);
		return -EBADMSG;
	}
	*ret = o;
	*ret_cid = cid;
	*ret_ifname = ifname;
	return 0;
}

static bool same_attachment(const struct cni_ctx *ctx, const char *cid, const char *ifname)
{
	return strcmp(cid, ctx->container_id) == 0 && strcmp(ifname, ctx->ifname) == 0;
}

bool sriov_alloc_taken_over(const char *bdf, const struct cni_ctx *ctx)
{
	_cleanup_json_ cJSON *o = NULL;
	const char *cid, *ifname;
	return record_owner(bdf, &o, &cid, &ifname) == 0 && !same_attachment(ctx, cid, ifname);
}

void sriov_alloc_drop(const char *bdf)
{
	_cleanup_free_ char *path = record_path(bdf);
	sriov_record_remove(path);
}

static char *cache_path(const struct cni_ctx *ctx)
{
	return xasprintf("%s/%s-%s.json", state_dir(), ctx->container_id, ctx->ifname);
}

void sriov_cache_done(struct sriov_cache *c)
{
	free(c->host_ifname);
	free(c->host_kind);
	free(c->device_info_file);
	memset(c, 0, sizeof(*c));
}

static cJSON *vf_state_encode(const struct net_vf_state *s)
{
	char mac[MAC_STR_LEN];
	cJSON *o = cJSON_CreateObject();
	format_mac(s->mac, mac);
	cJSON_AddNumberToObject(o, "has", s->has);
	cJSON_AddStringToObject(o, "mac", mac);
	cJSON_AddNumberToObject(o, "vlan", s->vlan);
	cJSON_AddNumberToObject(o, "qos", s->qos);
	cJSON_AddNumberToObject(o, "proto", s->proto);
	cJSON_AddBoolToObject(o, "spoofchk", s->spoofchk);
	cJSON_AddBoolToObject(o, "trust", s->trust);
	cJSON_AddNumberToObject(o, "minTxRate", s->min_rate);
	cJSON_AddNumberToObject(o, "maxTxRate", s->max_rate);
	cJSON_AddNumberToObject(o, "linkState", s->link_state);
	return o;
}

int sriov_cache_save(const struct cni_ctx *ctx, const struct sriov_cache *c, struct cni_err *err)
{
	int r = mkdir_state("/pci", err);
	if (r < 0)
		return r;
	char mac[MAC_STR_LEN];
	_cleanup_json_ cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "deviceID", c->device_id);
	cJSON_AddStringToObject(o, "containerID", ctx->container_id);
	cJSON_AddStringToObject(o, "ifname", ctx->ifname);
	cJSON_AddBoolToObject(o, "dpdk", c->dpdk);
	if (c->host_ifname) {
		format_mac(c->host_mac, mac);
		cJSON_AddStringToObject(o, "hostIfname", c->host_ifname);
		cJSON_AddStringToObject(o, "hostMac", mac);
		cJSON_AddNumberToObject(o, "hostMtu", c->host_mtu);
		if (c->host_kind)
			cJSON_AddStringToObject(o, "hostKind", c->host_kind);
		if (c->host_ifindex > 0)
			cJSON_AddNumberToObject(o, "hostIfindex", c->host_ifindex);
	}
	cJSON_AddItemToObject(o, "orig", vf_state_encode(&c->orig));
	cJSON_AddNumberToObject(o, "applied", c->applied);
	cJSON_AddBoolToObject(o, "moved", c->moved);
	if (c->pod_ifindex > 0)
		cJSON_AddNumberToObject(o, "podIfindex", c->pod_ifindex);
	if (c->device_info_file)
		cJSON_AddStringToObject(o, "deviceInfoFile", c->device_info_file);
	_cleanup_free_ char *text = json_print(o);
	_cleanup_free_ char *path = cache_path(ctx);
	r = write_durable(path, text, err);
	if (r < 0)
		return r;
	/* The allocation record is the same record plus the pod's netns: a second copy, so a
	 * power loss that cuts either file still leaves DEL what it needs. */
	cJSON_AddStringToObject(o, "netns", ctx->netns_path ? ctx->netns_path : "");
	_cleanup_free_ char *rtext = json_print(o);
	_cleanup_free_ char *rpath = record_path(c->device_id);
	return write_durable(rpath, rtext, err);
}

static int get_u32(const cJSON *o, const char *key, uint32_t *ret, struct cni_err *err)
{
	int64_t v;
	int r = json_get_int(o, key, key, 0, UINT32_MAX, &v, NULL, err);
	if (r >= 0 && json_get(o, key))
		*ret = (uint32_t)v;
	return r;
}

/* A cache or allocation record of the attachment ctx names (any other one does not decode);
 * ctx NULL: of any attachment. */
static int decode(const cJSON *o, const struct cni_ctx *ctx, struct sriov_cache *c,
		  struct cni_err *err)
{
	const char *id = NULL, *ifname = NULL, *mac = NULL, *omac = NULL, *dif = NULL;
	const char *kind = NULL, *cid = NULL, *aifname = NULL;
	const cJSON *orig = NULL;
	uint32_t proto = 0;
	int64_t ifindex = 0, host_ifindex = 0;
	int r = json_get_string(o, "deviceID", "deviceID", &id, NULL, err);
	if (r >= 0)
		r = json_get_string(o, "containerID", "containerID", &cid, NULL, err);
	if (r >= 0)
		r = json_get_string(o, "ifname", "ifname", &aifname, NULL, err);
	if (r >= 0)
		r = json_get_bool(o, "dpdk", "dpdk", &c->dpdk, NULL, err);
	if (r >= 0)
		r = json_get_string(o, "hostIfname", "hostIfname", &ifname, NULL, err);
	if (r >= 0)
		r = json_get_string(o, "hostMac", "hostMac", &mac, NULL, err);
	if (r >= 0)
		r = get_u32(o, "hostMtu", &c->host_mtu, err);
	if (r >= 0)
		r = json_get_string(o, "hostKind", "hostKind", &kind, NULL, err);
	if (r >= 0)
		r = json_get_int(o, "hostIfindex", "hostIfindex", 1, INT32_MAX, &host_ifindex, NULL,
				 err);
	if (r >= 0)
		r = get_u32(o, "applied", &c->applied, err);
	if (r >= 0)
		r = json_get_bool(o, "moved", "moved", &c->moved, NULL, err);
	if (r >= 0)
		r = json_get_int(o, "podIfindex", "podIfindex", 1, INT32_MAX, &ifindex, NULL, err);
	if (r >= 0)
		r = json_get_string(o, "deviceInfoFile", "deviceInfoFile", &dif, NULL, err);
	if (r >= 0)
		r = json_get_object(o, "orig", "orig", &orig, err);
	if (r >= 0)
		r = get_u32(orig, "has", &c->orig.has, err);
	if (r >= 0)
		r = json_get_string(orig, "mac", "orig.mac", &omac, NULL, err);
	if (r >= 0)
		r = get_u32(orig, "vlan", &c->orig.vlan, err);
	if (r >= 0)
		r = get_u32(orig, "qos", &c->orig.qos, err);
	if (r >= 0)
		r = get_u32(orig, "proto", &proto, err);
	if (r >= 0)
		r = json_get_bool(orig, "spoofchk", "orig.spoofchk", &c->orig.spoofchk, NULL, err);
	if (r >= 0)
		r = json_get_bool(orig, "trust", "orig.trust", &c->orig.trust, NULL, err);
	if (r >= 0)
		r = get_u32(orig, "minTxRate", &c->orig.min_rate, err);
	if (r >= 0)
		r = get_u32(orig, "maxTxRate", &c->orig.max_rate, err);
	if (r >= 0)
		r = get_u32(orig, "linkState", &c->orig.link_state, err);
	if (r < 0)
		return r;
	c->orig.proto = (uint16_t)proto;
	c->pod_ifindex = (int)ifindex;
	c->host_ifindex = (int)host_ifindex;
	if (!id || strlen(id) >= sizeof(c->device_id) || !cid || !aifname || !orig || !omac ||
	    parse_mac(omac, c->orig.mac) < 0 ||
	    (ifname && (!mac || parse_mac(mac, c->host_mac) < 0)))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "incomplete or invalid fields");
	if (ctx && (strcmp(cid, ctx->container_id) != 0 || strcmp(aifname, ctx->ifname) != 0))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
				   "record of container '%s' interface '%s'", cid, aifname);
	memcpy(c->device_id, id, strlen(id) + 1);
	c->host_ifname = ifname ? xstrdup(ifname) : NULL;
	c->host_kind = kind ? xstrdup(kind) : NULL;
	c->device_info_file = dif ? xstrdup(dif) : NULL;
	return 0;
}

/* Read and decode the record at path; a bad one is a decode error naming path. */
static int load_file(const char *path, const struct cni_ctx *ctx, struct sriov_cache *ret,
		     struct cni_err *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = file_read_all(path, 1 << 16, &text, &len);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "read '%s': %s", path, strerror(-r));
	_cleanup_json_ cJSON *o = NULL;
	struct sriov_cache c = { 0 };
	r = json_parse(text, len, "sriov cache", &o, err);
	if (r >= 0)
		r = decode(o, ctx, &c, err);
	if (r < 0) {
		sriov_cache_done(&c);
		/* Whatever the field getter said, a bad record is a decode error. */
		err->code = CNI_ERR_DECODE;
		return cni_err_wrap(err, "cache '%s'", path);
	}
	*ret = c;
	return 0;
}

int sriov_alloc_stale(const char *bdf, const struct cni_ctx *ctx, struct sriov_cache *ret,
		      char **ret_cache_path)
{
	_cleanup_json_ cJSON *o = NULL;
	const char *cid, *ifname;
	if (record_owner(bdf, &o, &cid, &ifname) < 0 || same_attachment(ctx, cid, ifname))
		return 0;
	struct cni_err e = { 0 };
	struct sriov_cache c = { 0 };
	if (decode(o, NULL, &c, &e) < 0 || strcmp(c.device_id, bdf) != 0) {
		sriov_cache_done(&c);
		return 0;
	}
	*ret = c;
	*ret_cache_path = xasprintf("%s/%s-%s.json", state_dir(), cid, ifname);
	return 1;
}

/* The allocation record of ctx's attachment, found by its content (the VF's address was in
 * the cache that failed). -ENOENT when none decodes. */
static int record_find(const struct cni_ctx *ctx, struct sriov_cache *ret)
{
	_cleanup_free_ char *dir = xasprintf("%s/pci", state_dir());
	DIR *d = opendir(dir);
	if (!d)
		return -ENOENT;
	int r = -ENOENT;
	struct dirent *e;
	while (r == -ENOENT && (e = readdir(d))) {
		if (e->d_name[0] == '.' || file_temp_pid(e->d_name, NULL) >= 0)
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, e->d_name);
		struct cni_err err = { 0 };
		struct sriov_cache c = { 0 };
		if (load_file(path, ctx, &c, &err) < 0)
			continue;
		if (strcmp(c.device_id, e->d_name) == 0) {
			log_warning("using the allocation record '%s'", path);
			*ret = c;
			r = 0;
		} else {
			sriov_cache_done(&c);
		}
	}
	(void)closedir(d);
	return r;
}

int sriov_cache_load(const struct cni_ctx *ctx, struct sriov_cache *ret, struct cni_err *err)
{
	_cleanup_free_ char *path = cache_path(ctx);
	int r = load_file(path, ctx, ret, err);
	if (r >= 0 || (r != -ENOENT && err->code != CNI_ERR_DECODE))
		return r;
	if (r != -ENOENT)
		log_warning("%s", err->msg);
	if (record_find(ctx, ret) < 0)
		return r;
	memset(err, 0, sizeof(*err));
	return 0;
}

void sriov_cache_remove(const struct cni_ctx *ctx)
{
	_cleanup_free_ char *path = cache_path(ctx);
	sriov_record_remove(path);
}

void sriov_cache_quarantine(const struct cni_ctx *ctx)
{
	_cleanup_free_ char *path = cache_path(ctx);
	_cleanup_free_ char *to = xasprintf("%s.corrupt", path);
	if (rename(path, to) < 0 && errno != ENOENT)
		log_warning("rename '%s': %m, ignoring", path);
}
