// SPDX-License-Identifier: Apache-2.0
/* vxlan netconf parsing and validation (docs/vxlan.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/conf.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "vxlan/vxlan.h"

void vxlan_conf_done(struct vxlan_conf *c)
{
	free(c->remotes);
	memset(c, 0, sizeof(*c));
}

static bool ip_is_multicast(const struct ip_addr *a)
{
	if (a->family == AF_INET)
		return (a->raw[0] & 0xf0) == 0xe0;
	return a->family == AF_INET6 && a->raw[0] == 0xff;
}

static const char *family_name(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

/* The kernel's dev_valid_name(), for the bridge override. */
static bool ifname_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))
			return false;
	return true;
}

/* Every underlay address (local, group, remotes) must be of one family. */
static int set_family(struct vxlan_conf *c, const struct ip_addr *a, const char *field,
		      struct cni_err *err)
{
	if (c->family && c->family != a->family)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s: %s address, but the other underlay addresses are %s", field,
				   family_name(a->family), family_name(c->family));
	c->family = a->family;
	return 0;
}

/* An IP-address string key; unset leaves *ret untouched and *ret_present false. */
static int get_ip(const cJSON *conf, const char *key, struct ip_addr *ret, bool *ret_present,
		  struct cni_err *err)
{
	const char *s = NULL;
	int r = json_get_string(conf, key, key, &s, NULL, err);
	if (r < 0)
		return r;
	*ret_present = s && *s;
	if (!*ret_present)
		return 0;
	if (parse_ip(s, ret) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s: invalid IP address '%s'", key, s);
	if (ip_is_zero(ret))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s: unspecified address '%s'", key, s);
	return 0;
}

static int parse_remotes(const cJSON *conf, struct vxlan_conf *c, struct cni_err *err)
{
	const cJSON *list = NULL;
	int r = json_get_array(conf, "remotes", "remotes", &list, err);
	if (r < 0 || !list)
		return r;
	c->remotes = xcalloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(*c->remotes));
	size_t i = 0;
	const cJSON *m;
	cJSON_ArrayForEach (m, list) {
		struct ip_addr a;
		char field[32];
		(void)snprintf(field, sizeof(field), "remotes[%zu]", i);
		if (!cJSON_IsString(m) || parse_ip(m->valuestring, &a) < 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s: invalid IP address%s%s%s", field,
					   cJSON_IsString(m) ? " '" : "",
					   cJSON_IsString(m) ? m->valuestring : "",
					   cJSON_IsString(m) ? "'" : "");
		if (ip_is_zero(&a) || ip_is_multicast(&a))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s: '%s' is not a unicast address (use 'group' for "
					   "multicast)",
					   field, m->valuestring);
		r = set_family(c, &a, field, err);
		if (r < 0)
			return r;
		i++;
		bool dup = false;
		for (size_t j = 0; j < c->n_remotes; j++)
			dup = dup || ip_addr_equal(&c->remotes[j], &a);
		if (!dup)
			c->remotes[c->n_remotes++] = a;
	}
	return 0;
}

static int parse_addresses(const cJSON *conf, struct vxlan_conf *c, struct cni_err *err)
{
	bool present;
	int r = get_ip(conf, "local", &c->local, &present, err);
	if (r < 0)
		return r;
	if (present) {
		if (ip_is_multicast(&c->local))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "local: multicast address is not a source address");
		c->has |= VXLAN_HAS_LOCAL;
		c->family = c->local.family;
	}
	r = get_ip(conf, "group", &c->group, &present, err);
	if (r < 0)
		return r;
	if (present) {
		if (!ip_is_multicast(&c->group))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "group: not a multicast address (use 'remotes' for "
					   "unicast peers)");
		r = set_family(c, &c->group, "group", err);
		if (r < 0)
			return r;
		c->has |= VXLAN_HAS_GROUP;
	}
	r = parse_remotes(conf, c, err);
	if (r < 0)
		return r;
	const char *peers = NULL;
	r = json_get_string(conf, "peers", "peers", &peers, NULL, err);
	if (r < 0)
		return r;
	if (peers && *peers) {
		if (strcmp(peers, "kubernetes") != 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "peers: unknown value '%s' (only \"kubernetes\")",
					   peers);
		if (c->n_remotes || (c->has & VXLAN_HAS_GROUP))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "peers: \"kubernetes\" is exclusive with '%s'",
					   c->n_remotes ? "remotes" : "group");
		c->peers_kube = true;
	}
	if ((c->has & VXLAN_HAS_GROUP) && json_get(conf, "remotes") &&
	    !cJSON_IsNull(json_get(conf, "remotes")))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "group: 'group' and 'remotes' are exclusive");
	/* The kernel: "Local interface required for multicast remote destination". */
	if ((c->has & VXLAN_HAS_GROUP) && !c->master)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "group: a multicast group needs 'master'");
	return 0;
}

static int parse_numbers(const cJSON *conf, struct vxlan_conf *c, struct cni_err *err)
{
	bool present;
	int64_t v;
	int r = json_get_int(conf, "vni", "vni", 1, VXLAN_VNI_MAX, &v, &present, err);
	if (r < 0)
		return r;
	if (!present)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "vni: required (1..%u)",
				   VXLAN_VNI_MAX);
	c->vni = (uint32_t)v;
	r = json_get_int(conf, "port", "port", 1, UINT16_MAX, &v, &present, err);
	if (r < 0)
		return r;
	c->port = present ? (uint16_t)v : VXLAN_DEFAULT_PORT;
	r = json_get_int(conf, "mtu", "mtu", 0, UINT16_MAX, &v, &present, err);
	if (r < 0)
		return r;
	if (present && v > 0) {
		if (v < 68)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "mtu: %lld is below the minimum 68 (0 = default)",
					   (long long)v);
		c->mtu = (uint32_t)v;
		c->has |= VXLAN_HAS_MTU;
	}
	r = json_get_int(conf, "ttl", "ttl", 0, 255, &v, &present, err);
	if (r < 0)
		return r;
	if (present) {
		c->ttl = (uint8_t)v;
		c->has |= VXLAN_HAS_TTL;
	}
	return 0;
}

static int parse_flags_and_names(const cJSON *conf, struct vxlan_conf *c, struct cni_err *err)
{
	/* The agent programs every remote MAC when peers come from the API: learning is off
	 * unless asked for. */
	if (c->peers_kube)
		c->learning = false;
	int r = json_get_bool(conf, "learning", "learning", &c->learning, NULL, err);
	if (r < 0)
		return r;
	r = json_get_bool(conf, "udpcsum", "udpcsum", &c->udp_csum, NULL, err);
	if (r < 0)
		return r;
	r = json_get_bool(conf, "deleteOnLastDel", "deleteOnLastDel", &c->delete_on_last_del, NULL,
			  err);
	if (r < 0)
		return r;
	const char *bridge = NULL;
	r = json_get_string(conf, "bridge", "bridge", &bridge, NULL, err);
	if (r < 0)
		return r;
	if (bridge && *bridge) {
		if (!ifname_valid(bridge))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "bridge: '%s' is not a valid interface name", bridge);
		(void)snprintf(c->bridge, sizeof(c->bridge), "%s", bridge);
	} else {
		(void)snprintf(c->bridge, sizeof(c->bridge), "pxb%u", c->vni);
	}
	(void)snprintf(c->vxdev, sizeof(c->vxdev), "vx%u", c->vni);
	if (!strcmp(c->bridge, c->vxdev))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "bridge: '%s' is the VTEP's own name", c->bridge);
	return 0;
}

int vxlan_conf_parse(const struct cni_ctx *ctx, struct vxlan_conf *ret, struct cni_err *err)
{
	/* Learning defaults on: with static remotes or a group nothing programs per-MAC FDB
	 * entries, so the VTEP must learn remote pod MACs from received frames. */
	struct vxlan_conf c = { .learning = true };
	const cJSON *conf = ctx->conf;
	int r = json_get_string(conf, "master", "master", &c.master, NULL, err);
	if (r < 0)
		goto fail;
	if (c.master && !*c.master)
		c.master = NULL;
	if (c.master && !ifname_valid(c.master)) {
		r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				"master: '%s' is not a valid interface name", c.master);
		goto fail;
	}
	r = parse_numbers(conf, &c, err);
	if (r < 0)
		goto fail;
	r = parse_addresses(conf, &c, err);
	if (r < 0)
		goto fail;
	r = parse_flags_and_names(conf, &c, err);
	if (r < 0)
		goto fail;
	bool mac_set = false;
	r = cni_conf_mac(ctx, c.mac, &mac_set, err);
	if (r >= 0 && mac_set)
		c.has |= VXLAN_HAS_MAC;
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	vxlan_conf_done(&c);
	return r;
}
