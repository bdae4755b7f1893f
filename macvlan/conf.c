// SPDX-License-Identifier: Apache-2.0
/* macvlan netconf parsing and validation (CHECKLIST §3.1). */
#include <errno.h>
#include <linux/if_link.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "macvlan/macvlan.h"

static const struct {
	const char *name;
	uint32_t mode;
} modes[] = {
	{ "bridge", MACVLAN_MODE_BRIDGE }, { "private", MACVLAN_MODE_PRIVATE },
	{ "vepa", MACVLAN_MODE_VEPA },	   { "passthru", MACVLAN_MODE_PASSTHRU },
	{ "source", MACVLAN_MODE_SOURCE },
};

void macvlan_conf_done(struct macvlan_conf *c)
{
	free(c->source_macs);
	memset(c, 0, sizeof(*c));
}

static int parse_source_macs(const cJSON *conf, struct macvlan_conf *c, struct cni_err *err)
{
	const cJSON *list = NULL;
	int r = json_get_array(conf, "sourceMacs", "sourceMacs", &list, err);
	if (r < 0)
		return r;
	if (c->mode != MACVLAN_MODE_SOURCE) {
		if (list)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "sourceMacs: only valid with mode 'source', not '%s'",
					   c->mode_name);
		return 0;
	}
	if (!list || cJSON_GetArraySize(list) == 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "sourceMacs: mode 'source' needs a non-empty list of MACs");
	c->source_macs = xcalloc((size_t)cJSON_GetArraySize(list), MAC_LEN);
	const cJSON *m;
	cJSON_ArrayForEach (m, list) {
		if (!cJSON_IsString(m) ||
		    parse_mac(m->valuestring, c->source_macs[c->n_source_macs]) < 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "sourceMacs[%zu]: invalid MAC address",
					   c->n_source_macs);
		c->n_source_macs++;
	}
	return 0;
}

/* Reference priority: conf "mac" < CNI_ARGS MAC= < runtimeConfig.mac. */
static int parse_mac_overrides(const struct cni_ctx *ctx, struct macvlan_conf *c,
			       struct cni_err *err)
{
	const char *mac = NULL;
	int r = json_get_string(ctx->conf, "mac", "mac", &mac, NULL, err);
	if (r < 0)
		return r;
	if (mac && *mac) {
		if (parse_mac(mac, c->mac) < 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "mac: invalid MAC address '%s'", mac);
		c->has |= MACVLAN_HAS_MAC;
	}
	const char *arg = cni_ctx_arg(ctx, "MAC");
	if (arg && *arg) {
		if (parse_mac(arg, c->mac) < 0)
			return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
					   "CNI_ARGS MAC: invalid MAC address '%s'", arg);
		c->has |= MACVLAN_HAS_MAC;
	}
	r = json_get_string(ctx->runtime_config, "mac", "runtimeConfig.mac", &mac, NULL, err);
	if (r < 0)
		return r;
	if (ctx->runtime_config && mac && *mac) {
		if (parse_mac(mac, c->mac) < 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "runtimeConfig.mac: invalid MAC address '%s'", mac);
		c->has |= MACVLAN_HAS_MAC;
	}
	if ((c->has & MACVLAN_HAS_MAC) && (c->mac[0] & 1))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "mac: '%02x:%02x:%02x:%02x:%02x:%02x' is a multicast address",
				   c->mac[0], c->mac[1], c->mac[2], c->mac[3], c->mac[4],
				   c->mac[5]);
	return 0;
}

int macvlan_conf_parse(const struct cni_ctx *ctx, struct macvlan_conf *ret, struct cni_err *err)
{
	struct macvlan_conf c = { .mode_name = "bridge", .mode = MACVLAN_MODE_BRIDGE };
	const cJSON *conf = ctx->conf;
	bool present;
	int64_t v;
	int r = json_get_string(conf, "master", "master", &c.master, NULL, err);
	if (r < 0)
		goto fail;
	if (c.master && !*c.master)
		c.master = NULL;
	if (c.master && strlen(c.master) > 15) {
		r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				"master: '%s' is not a valid interface name", c.master);
		goto fail;
	}
	const char *mode = NULL;
	r = json_get_string(conf, "mode", "mode", &mode, NULL, err);
	if (r < 0)
		goto fail;
	if (mode && *mode) {
		size_t i;
		for (i = 0; i < ARRAY_SIZE(modes); i++)
			if (strcmp(mode, modes[i].name) == 0)
				break;
		if (i == ARRAY_SIZE(modes)) {
			r = cni_err_set(
				err, CNI_ERR_INVALID_CONFIG, EINVAL,
				"mode: unknown macvlan mode '%s' (want bridge, private, vepa, "
				"passthru or source)",
				mode);
			goto fail;
		}
		c.mode_name = modes[i].name;
		c.mode = modes[i].mode;
	}
	r = json_get_int(conf, "mtu", "mtu", 0, INT32_MAX, &v, &present, err);
	if (r < 0)
		goto fail;
	if (present && v > 0) {
		c.mtu = (uint32_t)v;
		c.has |= MACVLAN_HAS_MTU;
	}
	r = json_get_int(conf, "bcqueuelen", "bcqueuelen", 0, UINT32_MAX, &v, &present, err);
	if (r < 0)
		goto fail;
	if (present) {
		c.bcqueuelen = (uint32_t)v;
		c.has |= MACVLAN_HAS_BCQUEUELEN;
	}
	r = json_get_bool(conf, "linkInContainer", "linkInContainer", &c.link_in_container, NULL,
			  err);
	if (r < 0)
		goto fail;
	r = parse_mac_overrides(ctx, &c, err);
	if (r < 0)
		goto fail;
	r = parse_source_macs(conf, &c, err);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	macvlan_conf_done(&c);
	return r;
}
