// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: tenantPolicy parsing and the policy checks on a tenant's NAD config. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "delegates/dlg.h"
#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "meta/conf.h"
#include "meta/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a node conf's tenantPolicy: parsed, then used on a fixed NAD. */
static void as_policy(const char *s)
{
	_cleanup_free_ char *text = xasprintf("{\"clusterNetwork\":\"c\",\"tenantPolicy\":%s}", s);
	_cleanup_json_ cJSON *j = cJSON_Parse(text);
	struct meta_conf c;
	struct cni_err err = { 0 };
	if (!j || meta_conf_parse(j, &c, &err) < 0)
		return;
	const char *nad = "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":"
			  "\"/var/lib/cni/networks/x\"}}";
	struct dlg_list l = { 0 };
	if (dlg_list_parse(nad, strlen(nad), "x", "1.0.0", &l, &err) == 0) {
		(void)meta_policy_check_network(&c.policy, "ns/x", &l, false, &err);
		dlg_list_done(&l);
	}
	meta_conf_done(&c);
}

/* The input as a NAD's spec.config (its "cni-args" member, if any, as the pod's cni-args). */
static void as_nad(const char *s, size_t size)
{
	static struct meta_conf c;
	static bool ready;
	struct cni_err err = { 0 };
	if (!ready) {
		_cleanup_json_ cJSON *j = cJSON_Parse(
			"{\"clusterNetwork\":\"c\",\"tenantPolicy\":{\"deniedTypes\":[\"bridge\"],"
			"\"hostPathRoots\":{\"logFile\":[\"/var/log/cni\"],\"dataDir\":[\"/\"]}}}");
		ready = meta_conf_parse(j, &c, &err) == 0;
	}
	struct dlg_list l = { 0 };
	if (!ready || dlg_list_parse(s, size, "x", "1.0.0", &l, &err) < 0)
		return;
	(void)meta_policy_check_network(&c.policy, "ns/x", &l, false, &err);
	(void)meta_policy_check_network(&c.policy, "ns/x", &l, true, &err);
	const cJSON *args = json_get(l.json, "cni-args");
	if (cJSON_IsObject(args))
		(void)meta_policy_check_cni_args("ns/x", &l, args, &err);
	_cleanup_json_ cJSON *ann = cJSON_CreateObject();
	cJSON_AddStringToObject(ann, "k8s.v1.cni.cncf.io/networks", s);
	(void)meta_policy_check_pod(&c, "default", ann, &err);
	dlg_list_done(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	_cleanup_free_ char *s = xstrndup((const char *)data + 1, size - 1);
	if (data[0] & 1)
		as_policy(s);
	else
		as_nad(s, strlen(s));
	return 0;
}
