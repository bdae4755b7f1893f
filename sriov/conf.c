// SPDX-License-Identifier: Apache-2.0
/* sriov netconf parsing and validation, compatible with the reference sriov-cni. */
#include <ctype.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <string.h>
#include <strings.h>

#include "lib/cni/conf.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/parse.h"
#include "sriov/sriov.h"

/* deviceID < pciBusID fallback; runtimeConfig.deviceID overrides both (meta-plugin). */
static int parse_device_id(const struct cni_ctx *ctx, struct sriov_conf *c, struct cni_err *err)
{
	const char *id = NULL, *bus = NULL, *rt = NULL, *field = "deviceID";
	int r = json_get_string(ctx->conf, "deviceID", "deviceID", &id, NULL, err);
	if (r >= 0)
		r = json_get_string(ctx->conf, "pciBusID", "pciBusID", &bus, NULL, err);
	if (r >= 0)
		r = json_get_string(ctx->runtime_config, "deviceID", "runtimeConfig.deviceID", &rt,
				    NULL, err);
	if (r < 0)
		return r;
	if (rt && *rt) {
		id = rt;
		field = "runtimeConfig.deviceID";
	} else if ((!id || !*id) && bus && *bus) {
		id = bus;
		field = "pciBusID";
	}
	if (!id || !*id)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "deviceID: required VF PCI address missing");
	if (!parse_pci_address_ok(id))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s: invalid PCI address '%s' (want dddd:bb:dd.f)", field, id);
	for (size_t i = 0; id[i]; i++)
		c->device_id[i] = (char)tolower((unsigned char)id[i]);
	return 0;
}

/* Reference priority: conf "mac" < CNI_ARGS MAC= < runtimeConfig.mac. */
static int parse_macs(const struct cni_ctx *ctx, struct sriov_conf *c, struct cni_err *err)
{
	bool set = false;
	int r = cni_conf_mac(ctx, c->mac, &set, err);
	if (r >= 0 && set)
		c->has |= SRIOV_HAS_MAC;
	return r;
}

/* "on"/"off" keys; *ret_present false when absent or empty. */
static int parse_onoff(const cJSON *conf, const char *key, bool *ret, bool *ret_present,
		       struct cni_err *err)
{
	const char *s = NULL;
	int r = json_get_string(conf, key, key, &s, NULL, err);
	*ret_present = false;
	if (r < 0 || !s || !*s)
		return r;
	if (strcmp(s, "on") && strcmp(s, "off"))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "%s: invalid value '%s' (want on or off)", key, s);
	*ret = strcmp(s, "on") == 0;
	*ret_present = true;
	return 0;
}

static int parse_u32_key(const cJSON *conf, const char *key, int64_t max, uint32_t *ret,
			 bool *ret_present, struct cni_err *err)
{
	int64_t v;
	bool present = false;
	int r = json_get_int(conf, key, key, 0, max, &v, &present, err);
	if (r < 0)
		return r;
	if (present)
		*ret = (uint32_t)v;
	*ret_present = present;
	return 0;
}

static int parse_vlan(const cJSON *conf, struct sriov_conf *c, struct cni_err *err)
{
	bool present;
	int r = parse_u32_key(conf, "vlan", 4094, &c->vlan, &present, err);
	if (r < 0)
		return r;
	if (present)
		c->has |= SRIOV_HAS_VLAN;
	r = parse_u32_key(conf, "vlanQoS", 7, &c->vlan_qos, &present, err);
	if (r < 0)
		return r;
	if (c->vlan_qos && !c->vlan)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "vlanQoS: a non-zero vlan is needed to set a VLAN QoS");
	const char *proto = NULL;
	r = json_get_string(conf, "vlanProto", "vlanProto", &proto, NULL, err);
	if (r < 0)
		return r;
	c->vlan_proto = ETH_P_8021Q;
	if (proto && *proto) {
		if (strcasecmp(proto, "802.1ad") == 0)
			c->vlan_proto = ETH_P_8021AD;
		else if (strcasecmp(proto, "802.1q") != 0)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "vlanProto: invalid value '%s' (want 802.1q or 802.1ad)",
					   proto);
	}
	if (c->vlan_proto == ETH_P_8021AD && !c->vlan)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "vlanProto: a non-zero vlan is needed for 802.1ad");
	return 0;
}

static int parse_rates(const cJSON *conf, struct sriov_conf *c, struct cni_err *err)
{
	bool present;
	int r = parse_u32_key(conf, "min_tx_rate", UINT32_MAX, &c->min_tx_rate, &present, err);
	if (r < 0)
		return r;
	if (present)
		c->has |= SRIOV_HAS_MIN_RATE;
	r = parse_u32_key(conf, "max_tx_rate", UINT32_MAX, &c->max_tx_rate, &present, err);
	if (r < 0)
		return r;
	if (present)
		c->has |= SRIOV_HAS_MAX_RATE;
	if ((c->has & SRIOV_HAS_MIN_RATE) && (c->has & SRIOV_HAS_MAX_RATE) && c->max_tx_rate &&
	    c->min_tx_rate > c->max_tx_rate)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "min_tx_rate: %u is greater than max_tx_rate %u", c->min_tx_rate,
				   c->max_tx_rate);
	return 0;
}

static int parse_link_state(const cJSON *conf, struct sriov_conf *c, struct cni_err *err)
{
	static const char *const names[] = { [NET_VF_LINK_AUTO] = "auto",
					     [NET_VF_LINK_ENABLE] = "enable",
					     [NET_VF_LINK_DISABLE] = "disable" };
	const char *s = NULL;
	int r = json_get_string(conf, "link_state", "link_state", &s, NULL, err);
	if (r < 0 || !s || !*s)
		return r;
	for (uint32_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0) {
			c->link_state = i;
			c->has |= SRIOV_HAS_LINK_STATE;
			return 0;
		}
	return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
			   "link_state: invalid value '%s' (want auto, enable or disable)", s);
}

/* "MTU" (the reference's Go field) or "mtu"; 0 = unset. */
static int parse_mtu(const cJSON *conf, struct sriov_conf *c, struct cni_err *err)
{
	const char *key = json_get(conf, "MTU") ? "MTU" : "mtu";
	bool present;
	int r = parse_u32_key(conf, key, 65535, &c->mtu, &present, err);
	if (r < 0)
		return r;
	if (present && c->mtu) {
		if (c->mtu < 68)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   "%s: invalid MTU %u (minimum 68)", key, c->mtu);
		c->has |= SRIOV_HAS_MTU;
	}
	return 0;
}

int sriov_conf_parse(const struct cni_ctx *ctx, struct sriov_conf *ret, struct cni_err *err)
{
	struct sriov_conf c = { 0 };
	const cJSON *conf = ctx->conf;
	bool present;
	int r = parse_device_id(ctx, &c, err);
	if (r >= 0)
		r = parse_vlan(conf, &c, err);
	if (r >= 0)
		r = parse_macs(ctx, &c, err);
	if (r >= 0)
		r = parse_onoff(conf, "spoofchk", &c.spoofchk, &present, err);
	if (r >= 0 && present)
		c.has |= SRIOV_HAS_SPOOFCHK;
	if (r >= 0)
		r = parse_onoff(conf, "trust", &c.trust, &present, err);
	if (r >= 0 && present)
		c.has |= SRIOV_HAS_TRUST;
	if (r >= 0)
		r = parse_link_state(conf, &c, err);
	if (r >= 0)
		r = parse_rates(conf, &c, err);
	if (r >= 0)
		r = parse_mtu(conf, &c, err);
	if (r >= 0)
		r = json_get_string(ctx->runtime_config, "CNIDeviceInfoFile",
				    "runtimeConfig.CNIDeviceInfoFile", &c.device_info_file, NULL,
				    err);
	if (r < 0)
		return r;
	if (c.device_info_file && !*c.device_info_file)
		c.device_info_file = NULL;
	*ret = c;
	return 0;
}

void sriov_conf_wanted(const struct sriov_conf *c, const struct net_vf_state *cur,
		       struct net_vf_state *ret, unsigned *ret_mask)
{
	struct net_vf_state w = *cur;
	/* The reference always applies the VLAN triple (0/0/802.1q when unset). */
	unsigned mask = NET_VF_VLAN;
	w.vlan = c->vlan;
	w.qos = c->vlan_qos;
	w.proto = c->vlan_proto;
	if (c->has & SRIOV_HAS_MAC) {
		memcpy(w.mac, c->mac, MAC_LEN);
		mask |= NET_VF_MAC;
	}
	if (c->has & SRIOV_HAS_SPOOFCHK) {
		w.spoofchk = c->spoofchk;
		mask |= NET_VF_SPOOFCHK;
	}
	if (c->has & SRIOV_HAS_TRUST) {
		w.trust = c->trust;
		mask |= NET_VF_TRUST;
	}
	if (c->has & SRIOV_HAS_LINK_STATE) {
		w.link_state = c->link_state;
		mask |= NET_VF_LINK_STATE;
	}
	if (c->has & (SRIOV_HAS_MIN_RATE | SRIOV_HAS_MAX_RATE)) {
		if (c->has & SRIOV_HAS_MIN_RATE)
			w.min_rate = c->min_tx_rate;
		if (c->has & SRIOV_HAS_MAX_RATE)
			w.max_rate = c->max_tx_rate;
		mask |= NET_VF_RATE;
	}
	w.has |= mask;
	*ret = w;
	*ret_mask = mask;
}
