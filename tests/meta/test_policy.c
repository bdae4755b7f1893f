// SPDX-License-Identifier: Apache-2.0
/* Unit tests for tenantPolicy: parsing, the network check over Multus-shaped and hostile NADs,
 * cni-args, the per-pod bounds and namespace isolation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "delegates/dlg.h"
#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "meta/conf.h"
#include "meta/policy.h"

/* Parse a node conf (clusterNetwork added) with the given tenantPolicy JSON (or NULL). */
static void node_conf(const char *policy, struct meta_conf *ret)
{
	_cleanup_free_ char *text =
		xasprintf("{\"clusterNetwork\":\"c\"%s%s}", policy ? ",\"tenantPolicy\":" : "",
			  policy ? policy : "");
	_cleanup_json_ cJSON *j = cJSON_Parse(text);
	assert_non_null(j);
	struct cni_err err = { 0 };
	if (meta_conf_parse(j, ret, &err) < 0)
		fail_msg("node conf '%s': %s", text, err.msg);
	/* Strings the checks use are owned by the policy, not borrowed from j. */
}

/* Check config as network ns/x (admin or not); NULL want: must pass, else code 7 whose
 * message contains want. */
static void one(const struct meta_policy *p, const char *config, bool admin, const char *want)
{
	struct dlg_list l = { 0 };
	struct cni_err err = { 0 };
	if (dlg_list_parse(config, strlen(config), "x", "1.0.0", &l, &err) < 0)
		fail_msg("parse '%s': %s", config, err.msg);
	int r = meta_policy_check_network(p, "ns/x", &l, admin, &err);
	dlg_list_done(&l);
	if (!want && r < 0)
		fail_msg("'%s' refused: %s", config, err.msg);
	if (want && (r >= 0 || err.code != 7 || !strstr(err.msg, want)))
		fail_msg("'%s': want code 7 with '%s', got %d '%s'", config, want, err.code,
			 err.msg);
}

/* NADs as the Multus, reference-plugin and whereabouts docs show them: pass unchanged, or fail
 * naming the knob that allows them. */
static const struct {
	const char *config;
	const char *want;
} multus_shaped[] = {
	/* Multus quickstart: macvlan + host-local */
	{ "{\"cniVersion\":\"0.3.0\",\"type\":\"macvlan\",\"master\":\"eth0\",\"mode\":\"bridge\","
	  "\"ipam\":{\"type\":\"host-local\",\"subnet\":\"192.168.1.0/24\",\"rangeStart\":"
	  "\"192.168.1.200\",\"rangeEnd\":\"192.168.1.216\",\"routes\":[{\"dst\":\"0.0.0.0/0\"}],"
	  "\"gateway\":\"192.168.1.1\"}}",
	  NULL },
	/* bridge with host-local's default dataDir spelled out, and resolvConf */
	{ "{\"cniVersion\":\"1.0.0\",\"type\":\"bridge\",\"bridge\":\"mynet0\",\"isGateway\":true,"
	  "\"ipMasq\":true,\"ipam\":{\"type\":\"host-local\",\"subnet\":\"172.20.0.0/16\","
	  "\"dataDir\":\"/var/lib/cni/networks/mynet\",\"resolvConf\":\"/etc/resolv.conf\"}}",
	  NULL },
	/* ipvlan + static (Multus how-to) */
	{ "{\"cniVersion\":\"0.3.1\",\"type\":\"ipvlan\",\"master\":\"eth1\",\"mode\":\"l2\","
	  "\"capabilities\":{\"ips\":true},\"ipam\":{\"type\":\"static\"}}",
	  NULL },
	/* whereabouts with its documented kubeconfig */
	{ "{\"cniVersion\":\"0.3.0\",\"type\":\"macvlan\",\"master\":\"eth0\",\"mode\":\"bridge\","
	  "\"ipam\":{\"type\":\"whereabouts\",\"range\":\"192.168.2.225/28\",\"kubernetes\":"
	  "{\"kubeconfig\":\"/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig\"}}}",
	  NULL },
	/* whereabouts' README also sets log_file: a node file, so refused naming the knob */
	{ "{\"type\":\"macvlan\",\"master\":\"eth0\",\"ipam\":{\"type\":\"whereabouts\","
	  "\"range\":\"192.168.2.0/24\",\"log_file\":\"/tmp/whereabouts.log\"}}",
	  "plugins[0].ipam.log_file is a node-admin key; allow it with "
	  "tenantPolicy.hostPathRoots.log_file" },
	/* SR-IOV network operator style (resourceName is an annotation, not config) */
	{ "{\"cniVersion\":\"0.3.1\",\"type\":\"sriov\",\"vlan\":1000,\"spoofchk\":\"on\","
	  "\"capabilities\":{\"deviceID\":true,\"CNIDeviceInfoFile\":true},\"ipam\":{\"type\":"
	  "\"host-local\",\"subnet\":\"10.56.217.0/24\"}}",
	  NULL },
	/* tuning and portmap/bandwidth chains */
	{ "{\"cniVersion\":\"0.4.0\",\"name\":\"tuned\",\"plugins\":[{\"type\":\"macvlan\","
	  "\"master\":\"eth0\",\"ipam\":{\"type\":\"dhcp\",\"daemonSocketPath\":"
	  "\"/run/cni/dhcp.sock\"}},{\"type\":\"tuning\",\"sysctl\":{\"net.core.somaxconn\":"
	  "\"500\"}},{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}},{\"type\":"
	  "\"bandwidth\",\"capabilities\":{\"bandwidth\":true}},{\"type\":\"sbr\"}]}",
	  NULL },
	{ "{\"type\":\"vlan\",\"master\":\"eth0\",\"vlanId\":5,\"ipam\":{\"type\":\"dhcp\"}}",
	  NULL },
	{ "{\"type\":\"plexus-vxlan\",\"vni\":42,\"master\":\"eth0\",\"ipam\":{\"type\":"
	  "\"plexus-host-local\",\"ranges\":[[{\"subnet\":\"10.1.0.0/24\"}]]}}",
	  NULL },
	/* host-device moves a host link into the pod; flannel is not a secondary network */
	{ "{\"type\":\"host-device\",\"device\":\"eth1\"}",
	  "plugins[0].type 'host-device' is not in tenantPolicy.allowedTypes" },
	{ "{\"type\":\"flannel\",\"delegate\":{\"type\":\"bridge\"}}",
	  "'flannel' is not in tenantPolicy.allowedTypes" },
};

static void test_policy_multus_shaped_nads(void **state)
{
	(void)state;
	struct meta_conf c;
	node_conf(NULL, &c);
	for (size_t i = 0; i < ARRAY_SIZE(multus_shaped); i++)
		one(&c.policy, multus_shaped[i].config, false, multus_shaped[i].want);
	meta_conf_done(&c);
}

static const struct {
	const char *config;
	const char *want;
} hostile[] = {
	/* the nested meta-plugin: refused by type before its keys matter */
	{ "{\"type\":\"plexus\",\"binDir\":\"/tmp/t\",\"delegates\":[{\"type\":\"sh\"}]}",
	  "plugins[0].type 'plexus' is never run as a delegate" },
	{ "{\"type\":\"multus\",\"kubeconfig\":\"/tmp/k\"}",
	  "'multus' is never run as a delegate" },
	{ "{\"type\":\"plexus-apid\"}", "'plexus-apid' is never run" },
	{ "{\"type\":\"sh\",\"binDir\":\"/bin\"}", "'sh' is not in tenantPolicy.allowedTypes" },
	{ "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"../../bin/sh\"}}",
	  "'../../bin/sh' is not a plain plugin name" },
	{ "{\"type\":\"..\"}", "'..' is not a plain plugin name" },
	{ "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"/bin/sh\"}}",
	  "plugins[0].ipam.type '/bin/sh' is not a plain" },
	{ "{\"type\":\"flannel\",\"delegate\":{\"type\":\"sh\"}}",
	  "not in tenantPolicy.allowedTypes" },
	{ "{\"type\":\"macvlan\",\"args\":{\"x\":{\"type\":\"sh\"}}}",
	  "plugins[0].args.x.type 'sh' is not in tenantPolicy.allowedTypes" },
	/* Go's encoding/json (the reference plugins) matches member names case-insensitively,
	 * with U+017F for 's' and U+212A for 'k': these reach the same fields. */
	{ "{\"type\":\"bridge\",\"ipam\":{\"type\":\"host-local\",\"TYPE\":\"sh\"}}",
	  "plugins[0].ipam.TYPE 'sh' is not in tenantPolicy.allowedTypes" },
	{ "{\"type\":\"bridge\",\"ipam\":{\"type\":\"host-local\",\"DataDir\":\"/etc\"}}",
	  "plugins[0].ipam.DataDir '/etc' is outside tenantPolicy.hostPathRoots.dataDir" },
	{ "{\"type\":\"bridge\",\"ipam\":{\"type\":\"dhcp\","
	  "\"daemon\xc5\xbfocketPath\":\"/run/containerd/containerd.sock\"}}",
	  "is outside tenantPolicy.hostPathRoots.daemonSocketPath" },
	{ "{\"type\":\"bridge\",\"ipam\":{\"type\":\"whereabouts\","
	  "\"\xe2\x84\xaaubeconfig\":\"/etc/kubernetes/admin.conf\"}}",
	  "is outside tenantPolicy.hostPathRoots.kubeconfig" },
	{ "{\"type\":\"bridge\",\"LOGFILE\":\"/etc/passwd\"}",
	  "plugins[0].LOGFILE is a node-admin key" },
	{ "{\"type\":\"bridge\",\"RuntimeConfig\":{}}",
	  "plugins[0].RuntimeConfig is set by the runtime" },
	/* host paths */
	{ "{\"type\":\"macvlan\",\"logFile\":\"/etc/cron.d/x\"}",
	  "plugins[0].logFile is a node-admin key; allow it with "
	  "tenantPolicy.hostPathRoots.logFile "
	  "or trust the namespace in tenantPolicy.trustedNamespaces" },
	{ "{\"type\":\"macvlan\",\"binDir\":\"/tmp\"}", "plugins[0].binDir is a node-admin key" },
	{ "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"/etc\"}}",
	  "network 'ns/x': plugins[0].ipam.dataDir '/etc' is outside "
	  "tenantPolicy.hostPathRoots.dataDir [/var/lib/cni/networks]" },
	{ "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":"
	  "\"/var/lib/cni/networks/../../../etc\"}}",
	  "'/var/lib/cni/networks/../../../etc' must be an absolute path without '.', '..' or "
	  "empty components, under tenantPolicy.hostPathRoots.dataDir [/var/lib/cni/networks]" },
	{ "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":"
	  "\"/var/lib/cni/networks2\"}}",
	  "is outside tenantPolicy.hostPathRoots.dataDir" },
	{ "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"net\"}}",
	  "'net' must be an absolute path" },
	{ "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":"
	  "\"/var/lib/cni/networks//x\"}}",
	  "must be an absolute path" },
	{ "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":7}}",
	  "plugins[0].ipam.dataDir must be a string path (tenantPolicy.hostPathRoots.dataDir)" },
	{ "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\",\"resolvConf\":\"/etc/"
	  "shadow\"}}",
	  "plugins[0].ipam.resolvConf '/etc/shadow' is outside "
	  "tenantPolicy.hostPathRoots.resolvConf "
	  "[/etc/resolv.conf /run/systemd/resolve/resolv.conf" },
	{ "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"dhcp\",\"daemonSocketPath\":"
	  "\"/run/containerd/containerd.sock\"}}",
	  "outside tenantPolicy.hostPathRoots.daemonSocketPath" },
	{ "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"whereabouts\",\"kubernetes\":{\"kubeconfig\":"
	  "\"/etc/kubernetes/admin.conf\"}}}",
	  "plugins[0].ipam.kubernetes.kubeconfig '/etc/kubernetes/admin.conf' is outside" },
	{ "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"whereabouts\",\"etcd_key_file\":\"/k\"}}",
	  "plugins[0].ipam.etcd_key_file is a node-admin key" },
	{ "{\"type\":\"firewall\",\"iptablesAdminChainName\":\"INPUT\"}",
	  "iptablesAdminChainName is a node-admin key" },
	{ "{\"name\":\"n\",\"plugins\":[{\"type\":\"macvlan\"}],\"tenantPolicy\":{}}",
	  "tenantPolicy is a node-admin key" },
	/* what the runtime and the meta-plugin inject */
	{ "{\"type\":\"macvlan\",\"runtimeConfig\":{\"ips\":[\"10.0.0.1/24\"]}}",
	  "plugins[0].runtimeConfig is set by the runtime" },
	{ "{\"type\":\"macvlan\",\"prevResult\":{}}",
	  "plugins[0].prevResult is set by the runtime" },
	{ "{\"type\":\"macvlan\",\"cni.dev/valid-attachments\":[]}",
	  "cni.dev/valid-attachments is set by the runtime" },
	{ "{\"type\":\"sriov\",\"deviceID\":\"0000:3b:02.0\"}",
	  "plugins[0].deviceID is set by the runtime" },
	{ "{\"type\":\"sriov\",\"pciBusID\":\"0000:3b:02.0\"}", "plugins[0].pciBusID is set" },
};

static void test_policy_hostile_nads(void **state)
{
	(void)state;
	struct meta_conf c;
	node_conf(NULL, &c);
	for (size_t i = 0; i < ARRAY_SIZE(hostile); i++)
		one(&c.policy, hostile[i].config, false, hostile[i].want);
	meta_conf_done(&c);
}

/* A trusted namespace's NAD may do what an untrusted one may not, except the denied types. */
static void test_policy_trusted_and_denied(void **state)
{
	(void)state;
	struct meta_conf c;
	node_conf("{\"trustedNamespaces\":[\"infra\"],\"deniedTypes\":[\"bridge\"]}", &c);
	assert_true(meta_policy_trusted(&c.policy, "infra"));
	assert_false(meta_policy_trusted(&c.policy, "kube-system"));
	one(&c.policy, "{\"type\":\"sh\",\"logFile\":\"/var/log/x\"}", true, NULL);
	one(&c.policy,
	    "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"/srv/ipam\"}}",
	    true, NULL);
	one(&c.policy, "{\"type\":\"plexus\",\"binDir\":\"/tmp\"}", true, "is never run");
	one(&c.policy, "{\"type\":\"bridge\"}", true, "'bridge' is in tenantPolicy.deniedTypes");
	one(&c.policy, "{\"type\":\"bridge\"}", false, "'bridge' is in tenantPolicy.deniedTypes");
	one(&c.policy, "{\"type\":\"sh\",\"ipam\":{\"type\":\"x/y\"}}", true,
	    "not a plain plugin name");
	meta_conf_done(&c);
	node_conf(NULL, &c);
	assert_true(meta_policy_trusted(&c.policy, "kube-system")); /* multusNamespace */
	meta_conf_done(&c);
}

static void test_policy_knobs(void **state)
{
	(void)state;
	struct meta_conf c;
	node_conf("{\"allowedTypes\":[\"macvlan\",\"host-local\",\"my-cni\"],"
		  "\"hostPathRoots\":{\"dataDir\":[\"/srv/ipam\",\"/run/ipam\"],\"logFile\":"
		  "[\"/var/log/cni\"],\"resolvConf\":[]},\"maxAttachments\":2,"
		  "\"maxAnnotationBytes\":64}",
		  &c);
	const char *ok[] = {
		"{\"type\":\"my-cni\"}",
		"{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":\"/srv/"
		"ipam\"}}",
		"{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":"
		"\"/run/ipam/a\"}}",
		"{\"type\":\"macvlan\",\"logFile\":\"/var/log/cni/macvlan.log\"}",
		/* untouched defaults stay */
		"{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\",\"kubeconfig\":"
		"\"/etc/cni/net.d/whereabouts.d/k\"}}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		one(&c.policy, ok[i], false, NULL);
	one(&c.policy, "{\"type\":\"bridge\"}", false, "not in tenantPolicy.allowedTypes");
	one(&c.policy,
	    "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\",\"dataDir\":"
	    "\"/var/lib/cni/networks\"}}",
	    false, "outside tenantPolicy.hostPathRoots.dataDir [/srv/ipam /run/ipam]");
	one(&c.policy, "{\"type\":\"macvlan\",\"ipam\":{\"resolvConf\":\"/etc/resolv.conf\"}}",
	    false, "outside tenantPolicy.hostPathRoots.resolvConf []");
	assert_int_equal(c.policy.max_attachments, 2);
	assert_int_equal(c.policy.max_annotation_bytes, 64);
	meta_conf_done(&c);
	node_conf(NULL, &c);
	assert_int_equal(c.policy.max_attachments, 32);
	assert_int_equal(c.policy.max_annotation_bytes, 32768);
	meta_conf_done(&c);
}

static void test_policy_parse_errors_name_the_key(void **state)
{
	(void)state;
	const struct {
		const char *policy;
		const char *want;
	} cases[] = {
		{ "[]", "tenantPolicy" },
		{ "{\"trustedNamespaces\":\"a\"}",
		  "tenantPolicy.trustedNamespaces: must be a list" },
		{ "{\"allowedTypes\":[\"a/b\"]}", "tenantPolicy.allowedTypes[0]: must be plain" },
		{ "{\"deniedTypes\":[\"..\"]}", "tenantPolicy.deniedTypes[0]" },
		{ "{\"hostPathRoots\":[]}", "tenantPolicy.hostPathRoots: must be an object" },
		{ "{\"hostPathRoots\":{\"dataDir\":\"/x\"}}",
		  "tenantPolicy.hostPathRoots.dataDir" },
		{ "{\"hostPathRoots\":{\"dataDir\":[\"rel\"]}}",
		  "tenantPolicy.hostPathRoots.dataDir[0]: must be an absolute path" },
		{ "{\"hostPathRoots\":{\"dataDir\":[\"/a/../b\"]}}", "hostPathRoots.dataDir[0]" },
		{ "{\"maxAttachments\":-1}", "tenantPolicy.maxAttachments" },
		{ "{\"maxAnnotationBytes\":0}", "tenantPolicy.maxAnnotationBytes" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *text = xasprintf(
			"{\"clusterNetwork\":\"c\",\"tenantPolicy\":%s}", cases[i].policy);
		_cleanup_json_ cJSON *j = cJSON_Parse(text);
		struct meta_conf c;
		struct cni_err err = { 0 };
		if (meta_conf_parse(j, &c, &err) == 0 || err.code != 7 ||
		    !strstr(err.msg, cases[i].want))
			fail_msg("'%s': want '%s', got %d '%s'", cases[i].policy, cases[i].want,
				 err.code, err.msg);
	}
}

static void cni_args_one(const char *config, const char *args, const char *want)
{
	struct dlg_list l = { 0 };
	struct cni_err err = { 0 };
	assert_int_equal(dlg_list_parse(config, strlen(config), "x", "1.0.0", &l, &err), 0);
	_cleanup_json_ cJSON *a = cJSON_Parse(args);
	int r = meta_policy_check_cni_args("ns/x", &l, a, &err);
	dlg_list_done(&l);
	if (!want && r < 0)
		fail_msg("%s with %s: %s", config, args, err.msg);
	if (want && (r >= 0 || err.code != 7 || !strstr(err.msg, want)))
		fail_msg("%s with %s: want '%s', got '%s'", config, args, want, err.msg);
}

static void test_policy_cni_args(void **state)
{
	(void)state;
	const char *plain = "{\"type\":\"macvlan\",\"ipam\":{\"type\":\"host-local\"}}";
	const char *caps = "{\"type\":\"macvlan\",\"capabilities\":{\"ips\":true,\"mac\":true}}";
	const char *opt_in = "{\"type\":\"macvlan\",\"allowCniArgs\":true}";
	const char *list_opt_in =
		"{\"name\":\"l\",\"allowCniArgs\":true,\"plugins\":[{\"type\":\"macvlan\"}]}";
	cni_args_one(plain, "{\"ips\":[\"10.0.0.9/24\"]}",
		     "network 'ns/x': cni-args.ips needs the capability the network does not "
		     "declare; the network may opt in with \"allowCniArgs\": true");
	cni_args_one(plain, "{\"mac\":\"02:00:00:00:00:01\"}", "cni-args.mac needs the capability");
	cni_args_one(plain, "{\"foo\":\"bar\"}", "cni-args.foo is not accepted from the pod");
	cni_args_one(caps, "{\"ips\":[\"10.0.0.9/24\"],\"mac\":\"02:00:00:00:00:01\"}", NULL);
	cni_args_one(caps, "{\"sysctl\":{}}", "cni-args.sysctl is not accepted");
	cni_args_one(opt_in, "{\"ips\":[\"10.0.0.9/24\"],\"foo\":1}", NULL);
	cni_args_one(list_opt_in, "{\"foo\":1}", NULL);
	cni_args_one(plain, "{}", NULL);
}

static void pod_one(const struct meta_conf *c, const char *pod_ns, const char *networks,
		    const char *default_net, const char *want)
{
	_cleanup_json_ cJSON *ann = cJSON_CreateObject();
	if (networks)
		cJSON_AddStringToObject(ann, "k8s.v1.cni.cncf.io/networks", networks);
	if (default_net)
		cJSON_AddStringToObject(ann, "v1.multus-cni.io/default-network", default_net);
	struct cni_err err = { 0 };
	int r = meta_policy_check_pod(c, pod_ns, ann, &err);
	if (!want && r < 0)
		fail_msg("refused: %s", err.msg);
	if (want && (r >= 0 || err.code != 7 || !strstr(err.msg, want)))
		fail_msg("want '%s', got %d '%s'", want, err.code, err.msg);
}

static void test_policy_pod_bounds(void **state)
{
	(void)state;
	_cleanup_json_ cJSON *j =
		cJSON_Parse("{\"clusterNetwork\":\"c\",\"defaultNetworks\":[\"d1\"],"
			    "\"tenantPolicy\":{\"maxAttachments\":3,\"maxAnnotationBytes\":40}}");
	struct meta_conf c;
	struct cni_err err = { 0 };
	assert_int_equal(meta_conf_parse(j, &c, &err), 0);
	pod_one(&c, "default", "a,b", NULL, NULL);
	pod_one(&c, "default", NULL, NULL, NULL);
	pod_one(&c, "default", "a,b,c", NULL,
		"4 networks requested (3 selected, 1 defaultNetworks), more than "
		"tenantPolicy.maxAttachments (3)");
	pod_one(&c, "kube-system", "a,b,c", NULL, NULL); /* no defaultNetworks there */
	pod_one(&c, "default", "aaaaaaaaaa,bbbbbbbbbb,cccccccccc,dddddddddd", NULL,
		"k8s.v1.cni.cncf.io/networks: 43 bytes, more than "
		"tenantPolicy.maxAnnotationBytes (40)");
	pod_one(&c, "default", NULL, "ns/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"v1.multus-cni.io/default-network: 54 bytes");
	pod_one(&c, "default", "Bad_Name", NULL, "[0].name");
	meta_conf_done(&c);
}

static void test_policy_isolation(void **state)
{
	(void)state;
	char *global[] = { "default" };
	struct cni_err err = { 0 };
	assert_int_equal(meta_policy_check_isolation(false, global, 1, "a", "b", "n", &err), 0);
	assert_int_equal(meta_policy_check_isolation(true, global, 1, "a", "a", "n", &err), 0);
	assert_int_equal(meta_policy_check_isolation(true, global, 1, "a", "default", "n", &err),
			 0);
	assert_true(meta_policy_check_isolation(true, global, 1, "a", "b", "n", &err) < 0);
	assert_int_equal(err.code, 7);
	assert_string_equal(err.msg, "namespace isolation: pod in 'a' may not use network 'b/n'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_multus_shaped_nads),
		cmocka_unit_test(test_policy_hostile_nads),
		cmocka_unit_test(test_policy_trusted_and_denied),
		cmocka_unit_test(test_policy_knobs),
		cmocka_unit_test(test_policy_parse_errors_name_the_key),
		cmocka_unit_test(test_policy_cni_args),
		cmocka_unit_test(test_policy_pod_bounds),
		cmocka_unit_test(test_policy_isolation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
