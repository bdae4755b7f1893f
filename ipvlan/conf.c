// SPDX-License-Identifier: Apache-2.0
/* ipvlan netconf parsing and validation (docs/ipvlan.md). */
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <string.h>

#include "ipvlan/ipvlan.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"

struct name_value {
	const char *name;
	uint16_t value;
};

static const struct name_value modes[] = {
	{ "l2", IPVLAN_MODE_L2 },
	{ "l3", IPVLAN_MODE_L3 },
	{ "l3s", IPVLAN_MODE_L3S },
};

/* iproute2's names for IFLA_IPVLAN_FLAGS. */
static const struct name_value flags[] = {
	{ "bridge", 0 },
	{ "private", IPVLAN_F_PRIVATE },
	{ "vepa", IPVLAN_F_VEPA },
};

static int lookup(const struct name_value *tbl, size_t n, const char *name, size_t *ret)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, tbl[i].name) == 0) {
			*ret = i;
			return 0;
		}
	return -ENOENT;
}

/* Chained mode (reference loadConf): without "master", a prevResult with exactly one named
 * interface names the master; without an IPAM type, prevResult's IPs are applied. */
static int resolve_chained(const struct cni_ctx *ctx, struct ipvlan_conf *c, struct cni_err *err)
{
	const struct cni_result *prev = ctx->prev_result;
	if (!c->master && prev) {
		if (prev->n_interfaces != 1 || !prev->interfaces[0].name ||
		    !*prev->interfaces[0].name)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "master: not set and prevResult lacks a single named "
					   "interface");
		c->master = prev->interfaces[0].name;
	}
	if (!ctx->ipam_type) {
		if (!prev || prev->n_ips == 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "ipam: no IPAM type, and no prevResult with IPs to "
					   "apply");
		c->preset = prev;
	}
	return 0;
}

int ipvlan_conf_parse(const struct cni_ctx *ctx, struct ipvlan_conf *ret, struct cni_err *err)
{
	struct ipvlan_conf c = { .mode_name = "l2", .mode = IPVLAN_MODE_L2 };
	const cJSON *conf = ctx->conf;
	const char *s = NULL;
	bool present;
	int64_t v;
	size_t i;
	int r = json_get_string(conf, "master", "master", &c.master, NULL, err);
	if (r < 0)
		return r;
	if (c.master && !*c.master)
		c.master = NULL;
	if (c.master && strlen(c.master) >= IFNAMSIZ)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "master: '%s' is not a valid interface name", c.master);
	r = json_get_string(conf, "mode", "mode", &s, NULL, err);
	if (r < 0)
		return r;
	if (s && *s) {
		if (lookup(modes, ARRAY_SIZE(modes), s, &i) < 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "mode: unknown ipvlan mode '%s' (want l2, l3 or l3s)",
					   s);
		c.mode_name = modes[i].name;
		c.mode = modes[i].value;
	}
	s = NULL;
	r = json_get_string(conf, "flag", "flag", &s, NULL, err);
	if (r < 0)
		return r;
	if (s && *s) {
		if (lookup(flags, ARRAY_SIZE(flags), s, &i) < 0)
			return cni_err_set(
				err, CNI_ERR_INVALID_CONFIG, EINVAL,
				"flag: unknown ipvlan flag '%s' (want bridge, private or "
				"vepa)",
				s);
		c.flag_name = flags[i].name;
		c.flag = flags[i].value;
		c.has |= IPVLAN_HAS_FLAG;
	}
	r = json_get_int(conf, "mtu", "mtu", 0, INT32_MAX, &v, &present, err);
	if (r < 0)
		return r;
	if (present && v > 0) {
		c.mtu = (uint32_t)v;
		c.has |= IPVLAN_HAS_MTU;
	}
	r = json_get_bool(conf, "linkInContainer", "linkInContainer", &c.link_in_container, NULL,
			  err);
	if (r < 0)
		return r;
	if (ctx->cmd == CNI_CMD_ADD) {
		r = resolve_chained(ctx, &c, err);
		if (r < 0)
			return r;
	}
	*ret = c;
	return 0;
}
