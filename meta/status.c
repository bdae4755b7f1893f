// SPDX-License-Identifier: Apache-2.0
/* The k8s.v1.cni.cncf.io/network-status annotation value (NPWG spec v1.3 §5). */
#include <string.h>

#include "lib/cni/result.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "meta/meta.h"

/* IPs are written without the prefix length, as the reference network-attachment-definition
 * client (and so Multus) does: tools built on the client parse them that way. */
static void add_ip(cJSON *ips, const struct cni_ip *ip)
{
	char buf[IP_STR_LEN];
	format_ip(&ip->address.ip, buf);
	cJSON_AddItemToArray(ips, cJSON_CreateString(buf));
}

static cJSON *entry(const cJSON *a, const char *ifname, const struct cni_iface *iface)
{
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "name", cJSON_GetStringValue(json_get(a, "name")));
	cJSON_AddStringToObject(e, "interface", ifname);
	cJSON_AddItemToObject(e, "ips", cJSON_CreateArray());
	if (iface && iface->mac)
		cJSON_AddStringToObject(e, "mac", iface->mac);
	if (iface && iface->mtu)
		cJSON_AddNumberToObject(e, "mtu", iface->mtu);
	cJSON_AddBoolToObject(e, "default", false);
	return e;
}

static void add_attachment(cJSON *out, const cJSON *a)
{
	const char *ifname = cJSON_GetStringValue(json_get(a, "ifname"));
	_cleanup_(cni_result_freep) struct cni_result *r = NULL;
	const cJSON *rj = json_get(a, "result");
	if (rj && !cJSON_IsNull(rj))
		(void)cni_result_decode(rj, CNI_V110, &r, NULL);
	size_t first = cJSON_GetArraySize(out);
	cJSON *last = NULL;
	/* One entry per sandbox interface of the result, as the reference client does. */
	for (size_t i = 0; r && i < r->n_interfaces; i++) {
		const struct cni_iface *f = &r->interfaces[i];
		if (!f->sandbox || !*f->sandbox)
			continue;
		last = entry(a, f->name, f);
		for (size_t k = 0; k < r->n_ips; k++)
			if (r->ips[k].interface == (int)i)
				add_ip((cJSON *)json_get(last, "ips"), &r->ips[k]);
		cJSON_AddItemToArray(out, last);
	}
	if (!last) {
		last = entry(a, ifname, NULL);
		cJSON_AddItemToArray(out, last);
	}
	/* IPs that name no interface go to the last sandbox entry. */
	for (size_t k = 0; r && k < r->n_ips; k++)
		if (r->ips[k].interface < 0 || (size_t)r->ips[k].interface >= r->n_interfaces)
			add_ip((cJSON *)json_get(last, "ips"), &r->ips[k]);
	if (r && !cni_dns_is_empty(&r->dns))
		cJSON_AddItemToObject(last, "dns", cni_dns_encode(&r->dns));
	/* At most one entry is the default (NPWG spec v1.3 §5.2): the default network's first
	 * interface. */
	if (cJSON_IsTrue(json_get(a, "default")))
		cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetArrayItem(out, (int)first),
						       "default", cJSON_CreateTrue());
	const cJSON *gw = json_get(a, "defaultRoute");
	if (cJSON_IsArray(gw)) {
		/* The spec's key, and the reference client's for tools built on it. */
		cJSON_AddItemToObject(cJSON_GetArrayItem(out, (int)first), "default-route",
				      cJSON_Duplicate(gw, true));
		cJSON_AddItemToObject(cJSON_GetArrayItem(out, (int)first), "gateway",
				      cJSON_Duplicate(gw, true));
	}
	const cJSON *dev = json_get(a, "deviceInfo");
	if (cJSON_IsObject(dev))
		cJSON_AddItemToObject(cJSON_GetArrayItem(out, (int)first), "device-info",
				      cJSON_Duplicate(dev, true));
}

cJSON *meta_network_status(const cJSON *attachments)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *a;
	cJSON_ArrayForEach (a, attachments) {
		add_attachment(out, a);
	}
	return out;
}
