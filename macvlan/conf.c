// SPDX-License-Identifier: Apache-2.0
/* macvlan netconf parsing and validation (docs/macvlan.md). */
#include <errno.h>
#include <linux/if_link.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/conf.h"
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
	bool mac_set = false;
	r = cni_conf_mac(ctx, c.mac, &mac_set, err);
	if (r < 0)
		goto fail;
	if (mac_set)
		c.has |= MACVLAN_HAS_MAC;
	r = parse_source_macs(conf, &c, err);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	macvlan_conf_done(&c);
	return r;
}
