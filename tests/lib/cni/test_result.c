// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the result model: decode/encode for every spec version and conversions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/cni/err.h"
#include "lib/cni/result.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Templates are written with ' for " to stay readable; jq() swaps them back. */
static char *jq(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *jq(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	return s;
}

/* Semantic comparison: parse the expectation and cJSON_Compare (key order is irrelevant). */
static void assert_json_eq(const cJSON *got, const char *want_text, const char *what)
{
	cJSON *want = cJSON_Parse(want_text);
	if (!want)
		fail_msg("%s: bad expectation JSON: %s", what, want_text);
	if (!cJSON_Compare(got, want, true)) {
		char *g = cJSON_PrintUnformatted(got);
		print_error("%s:\n  got  %s\n  want %s\n", what, g, want_text);
		free(g);
		cJSON_Delete(want);
		fail();
	}
	cJSON_Delete(want);
}

static struct cni_result *decode_text(const char *text, enum cni_version fallback)
{
	struct cni_result *r = NULL;
	struct cni_err err = { 0 };
	if (cni_result_parse(text, strlen(text), fallback, &r, &err) < 0)
		fail_msg("decode '%s': code %d '%s'", text, err.code, err.msg);
	return r;
}

static cJSON *encode(const struct cni_result *r, enum cni_version v)
{
	cJSON *j = NULL;
	struct cni_err err = { 0 };
	if (cni_result_encode(r, v, &j, &err) < 0)
		fail_msg("encode %s: code %d '%s'", cni_version_str(v), err.code, err.msg);
	/* cniVersion always comes first. */
	assert_non_null(j->child);
	assert_string_equal(j->child->string, "cniVersion");
	assert_string_equal(j->child->valuestring, cni_version_str(v));
	return j;
}

/* ---- one data set, rendered at three information levels ------------------------------- */

#define DNS_T                                                           \
	"'dns':{'nameservers':['10.96.0.10'],'domain':'cluster.local'," \
	"'search':['svc.cluster.local','cluster.local'],'options':['ndots:5']}"

/* 1.1.0: every field, including the 1.1-only ones. Two IPv4 and two IPv6 addresses so that
 * down-conversion must pick the first of each; routes listed v4 first, as 0.2.0 decodes. */
static const char T_110[] =
	"{'cniVersion':'1.1.0',"
	"'interfaces':[{'name':'eth0','mac':'aa:bb:cc:dd:ee:ff','mtu':1450,"
	"'sandbox':'/var/run/netns/pod','socketPath':'/run/vhost.sock','pciID':'0000:03:00.1'},"
	"{'name':'veth1','mac':'02:00:00:00:00:01'}],"
	"'ips':[{'interface':0,'address':'10.1.2.3/24','gateway':'10.1.2.1'},"
	"{'interface':0,'address':'2001:db8::3/64','gateway':'2001:db8::1'},"
	"{'interface':1,'address':'10.9.9.9/32'},"
	"{'interface':1,'address':'fd00::9/128'}],"
	"'routes':[{'dst':'0.0.0.0/0','gw':'10.1.2.1','mtu':1400,'advmss':1360,'priority':100,"
	"'table':200,'scope':0},"
	"{'dst':'10.10.0.0/16'},"
	"{'dst':'::/0','gw':'2001:db8::1'}]," DNS_T "}";

/* Same data without the 1.1-only fields; %s = version (1.0.0 or 1.1.0). */
static const char T_RICH1[] =
	"{'cniVersion':'%s',"
	"'interfaces':[{'name':'eth0','mac':'aa:bb:cc:dd:ee:ff','sandbox':'/var/run/netns/pod'},"
	"{'name':'veth1','mac':'02:00:00:00:00:01'}],"
	"'ips':[{'interface':0,'address':'10.1.2.3/24','gateway':'10.1.2.1'},"
	"{'interface':0,'address':'2001:db8::3/64','gateway':'2001:db8::1'},"
	"{'interface':1,'address':'10.9.9.9/32'},"
	"{'interface':1,'address':'fd00::9/128'}],"
	"'routes':[{'dst':'0.0.0.0/0','gw':'10.1.2.1'},{'dst':'10.10.0.0/16'},"
	"{'dst':'::/0','gw':'2001:db8::1'}]," DNS_T "}";

/* The same for 0.3.0/0.3.1/0.4.0: ips carry "version". */
static const char T_RICH04[] =
	"{'cniVersion':'%s',"
	"'interfaces':[{'name':'eth0','mac':'aa:bb:cc:dd:ee:ff','sandbox':'/var/run/netns/pod'},"
	"{'name':'veth1','mac':'02:00:00:00:00:01'}],"
	"'ips':[{'version':'4','interface':0,'address':'10.1.2.3/24','gateway':'10.1.2.1'},"
	"{'version':'6','interface':0,'address':'2001:db8::3/64','gateway':'2001:db8::1'},"
	"{'version':'4','interface':1,'address':'10.9.9.9/32'},"
	"{'version':'6','interface':1,'address':'fd00::9/128'}],"
	"'routes':[{'dst':'0.0.0.0/0','gw':'10.1.2.1'},{'dst':'10.10.0.0/16'},"
	"{'dst':'::/0','gw':'2001:db8::1'}]," DNS_T "}";

/* 0.1.0/0.2.0: first IPv4 and first IPv6, routes split by dst family. */
static const char T_020[] =
	"{'cniVersion':'%s',"
	"'ip4':{'ip':'10.1.2.3/24','gateway':'10.1.2.1',"
	"'routes':[{'dst':'0.0.0.0/0','gw':'10.1.2.1'},{'dst':'10.10.0.0/16'}]},"
	"'ip6':{'ip':'2001:db8::3/64','gateway':'2001:db8::1',"
	"'routes':[{'dst':'::/0','gw':'2001:db8::1'}]}," DNS_T "}";

/* What a 0.2.0 result becomes in the rich shapes: no interfaces, no ips[].interface. */
static const char T_UP1[] = "{'cniVersion':'%s',"
			    "'ips':[{'address':'10.1.2.3/24','gateway':'10.1.2.1'},"
			    "{'address':'2001:db8::3/64','gateway':'2001:db8::1'}],"
			    "'routes':[{'dst':'0.0.0.0/0','gw':'10.1.2.1'},{'dst':'10.10.0.0/16'},"
			    "{'dst':'::/0','gw':'2001:db8::1'}]," DNS_T "}";

static const char T_UP04[] = "{'cniVersion':'%s',"
			     "'ips':[{'version':'4','address':'10.1.2.3/24','gateway':'10.1.2.1'},"
			     "{'version':'6','address':'2001:db8::3/64','gateway':'2001:db8::1'}],"
			     "'routes':[{'dst':'0.0.0.0/0','gw':'10.1.2.1'},{'dst':'10.10.0.0/16'},"
			     "{'dst':'::/0','gw':'2001:db8::1'}]," DNS_T "}";

/* How much a version can carry: 0 = ip4/ip6, 1 = rich, 2 = rich + 1.1 fields. */
static int info_level(enum cni_version v)
{
	if (v <= CNI_V020)
		return 0;
	return v == CNI_V110 ? 2 : 1;
}

/* The canonical result of version v. */
static char *canonical(enum cni_version v)
{
	const char *s = cni_version_str(v);
	switch (info_level(v)) {
	case 0:
		return jq(T_020, s);
	case 1:
		return v >= CNI_V100 ? jq(T_RICH1, s) : jq(T_RICH04, s);
	default:
		return jq("%s", T_110);
	}
}

/* Converting canonical(src) to dst keeps the information both can carry. */
static char *expected(enum cni_version src, enum cni_version dst)
{
	const char *s = cni_version_str(dst);
	int lvl = info_level(src) < info_level(dst) ? info_level(src) : info_level(dst);
	if (info_level(dst) == 0)
		return jq(T_020, s);
	if (lvl == 0)
		return dst >= CNI_V100 ? jq(T_UP1, s) : jq(T_UP04, s);
	if (lvl == 1)
		return dst >= CNI_V100 ? jq(T_RICH1, s) : jq(T_RICH04, s);
	return jq("%s", T_110);
}

static void test_result_round_trip_every_version(void **state)
{
	(void)state;
	for (int v = 0; v < CNI_VERSION_COUNT; v++) {
		_cleanup_free_ char *in = canonical((enum cni_version)v);
		/* The fallback must not matter when cniVersion is present. */
		struct cni_result *r = decode_text(in, v <= CNI_V020 ? CNI_V110 : CNI_V010);
		cJSON *out = encode(r, (enum cni_version)v);
		char what[64];
		snprintf(what, sizeof(what), "round trip %s", cni_version_str(v));
		assert_json_eq(out, in, what);
		cJSON_Delete(out);
		cni_result_free(r);
	}
}

static void test_result_convert_every_direction(void **state)
{
	(void)state;
	for (int src = 0; src < CNI_VERSION_COUNT; src++) {
		_cleanup_free_ char *in = canonical((enum cni_version)src);
		struct cni_result *r = decode_text(in, CNI_V110);
		for (int dst = 0; dst < CNI_VERSION_COUNT; dst++) {
			_cleanup_free_ char *want = expected(src, dst);
			cJSON *out = encode(r, (enum cni_version)dst);
			char what[64];
			snprintf(what, sizeof(what), "convert %s -> %s", cni_version_str(src),
				 cni_version_str(dst));
			assert_json_eq(out, want, what);
			/* The output decodes back to the same thing. */
			char *text = json_print(out);
			struct cni_result *again = decode_text(text, CNI_V010);
			cJSON *out2 = encode(again, (enum cni_version)dst);
			assert_true(cJSON_Compare(out, out2, true));
			cJSON_Delete(out2);
			cni_result_free(again);
			free(text);
			cJSON_Delete(out);
		}
		cni_result_free(r);
	}
}

/* ---- specific conversions -------------------------------------------------------------- */

struct conv_case {
	const char *name;
	const char *in;
	enum cni_version fallback;
	enum cni_version to;
	const char *want; /* NULL: encoding must fail with code/msg */
	int code;
	const char *msg;
};

static void test_result_conversions_table(void **state)
{
	(void)state;
	const struct conv_case cases[] = {
		{ "fallback 0.2.0 when cniVersion is missing", "{'ip4':{'ip':'10.0.0.2/8'}}",
		  CNI_V020, CNI_V040,
		  "{'cniVersion':'0.4.0','ips':[{'version':'4','address':'10.0.0.2/8'}]}" },
		{ "fallback 1.0.0 when cniVersion is missing", "{'ips':[{'address':'10.0.0.2/8'}]}",
		  CNI_V100, CNI_V110, "{'cniVersion':'1.1.0','ips':[{'address':'10.0.0.2/8'}]}" },
		{ "fallback decides the shape", "{'ips':[{'address':'10.0.0.2/8'}]}", CNI_V010,
		  CNI_V110, "{'cniVersion':'1.1.0'}" },
		{ "cniVersion beats the fallback",
		  "{'cniVersion':'1.0.0','ips':[{'address':'10.0.0.2/8'}]}", CNI_V020, CNI_V110,
		  "{'cniVersion':'1.1.0','ips':[{'address':'10.0.0.2/8'}]}" },
		{ "null is an empty result", "null", CNI_V040, CNI_V110, "{'cniVersion':'1.1.0'}" },
		{ "{} is an empty result", "{}", CNI_V040, CNI_V040, "{'cniVersion':'0.4.0'}" },
		{ "{} with 0.2.0 fallback", " { } ", CNI_V020, CNI_V100, "{'cniVersion':'1.0.0'}" },
		{ "empty result to 0.2.0", "null", CNI_V110, CNI_V020, NULL, 1,
		  "cannot convert: no valid IP addresses" },
		{ "L2-only result to 0.1.0",
		  "{'cniVersion':'1.1.0','interfaces':[{'name':'net1','mac':'aa:bb:cc:dd:ee:ff'}]}",
		  CNI_V110, CNI_V010, NULL, 1, "cannot convert: no valid IP addresses" },
		{ "IPv6 only to 0.2.0 drops v4 routes",
		  "{'cniVersion':'1.0.0','ips':[{'address':'fd00::2/64','gateway':'fd00::1'}],"
		  "'routes':[{'dst':'0.0.0.0/0','gw':'10.0.0.1'},{'dst':'::/0'}]}",
		  CNI_V110, CNI_V020,
		  "{'cniVersion':'0.2.0','ip6':{'ip':'fd00::2/64','gateway':'fd00::1',"
		  "'routes':[{'dst':'::/0'}]}}" },
		{ "IPv4-mapped address counts as IPv6",
		  "{'cniVersion':'1.0.0','ips':[{'address':'::ffff:10.0.0.1/120'}]}", CNI_V110,
		  CNI_V020, "{'cniVersion':'0.2.0','ip6':{'ip':'::ffff:10.0.0.1/120'}}" },
		{ "1.1 route fields dropped for 0.2.0",
		  "{'cniVersion':'1.1.0','ips':[{'address':'10.0.0.2/8'}],"
		  "'routes':[{'dst':'10.0.0.0/8','table':7,'scope':253}]}",
		  CNI_V110, CNI_V020,
		  "{'cniVersion':'0.2.0','ip4':{'ip':'10.0.0.2/8','routes':[{'dst':'10.0.0.0/"
		  "8'}]}}" },
		{ "1.1 interface fields dropped for 0.4.0",
		  "{'cniVersion':'1.1.0','interfaces':[{'name':'net1','mtu':9000,'pciID':'0000:01:"
		  "00.2',"
		  "'socketPath':'/s'}],'ips':[{'interface':0,'address':'10.0.0.2/8'}]}",
		  CNI_V110, CNI_V040,
		  "{'cniVersion':'0.4.0','interfaces':[{'name':'net1'}],"
		  "'ips':[{'version':'4','interface':0,'address':'10.0.0.2/8'}]}" },
		{ "1.1 fields read from a 1.0.0 result too",
		  "{'cniVersion':'1.0.0','routes':[{'dst':'10.0.0.0/8','mtu':1400}]}", CNI_V110,
		  CNI_V110, "{'cniVersion':'1.1.0','routes':[{'dst':'10.0.0.0/8','mtu':1400}]}" },
		{ "empty arrays, dns and strings are omitted",
		  "{'cniVersion':'1.0.0','interfaces':[{'name':'a','mac':'','sandbox':''}],'ips':[]"
		  ","
		  "'routes':[],'dns':{'nameservers':[],'domain':'','search':[],'options':[]}}",
		  CNI_V110, CNI_V100, "{'cniVersion':'1.0.0','interfaces':[{'name':'a'}]}" },
		{ "null members are absent",
		  "{'cniVersion':'0.4.0','interfaces':null,'ips':[{'address':'10.0.0.2/8',"
		  "'gateway':null,'interface':null,'version':null}],'routes':null,'dns':null}",
		  CNI_V110, CNI_V040,
		  "{'cniVersion':'0.4.0','ips':[{'version':'4','address':'10.0.0.2/8'}]}" },
		{ "unknown keys are ignored",
		  "{'cniVersion':'1.1.0','foo':1,'ips':[{'address':'10.0.0.1/24','bar':true}]}",
		  CNI_V110, CNI_V110, "{'cniVersion':'1.1.0','ips':[{'address':'10.0.0.1/24'}]}" },
		{ "0.3.0 ips without version",
		  "{'cniVersion':'0.3.0','ips':[{'address':'10.0.0.1/24'}]}", CNI_V110, CNI_V031,
		  "{'cniVersion':'0.3.1','ips':[{'version':'4','address':'10.0.0.1/24'}]}" },
		{ "1.x ignores ips[].version",
		  "{'cniVersion':'1.0.0','ips':[{'version':'9','address':'10.0.0.1/24'}]}",
		  CNI_V110, CNI_V100, "{'cniVersion':'1.0.0','ips':[{'address':'10.0.0.1/24'}]}" },
		{ "0.2.0 ignores rich keys",
		  "{'cniVersion':'0.2.0','ips':[{'address':'10.0.0.1/24'}],'ip6':{'ip':'fd00::1/"
		  "64'}}",
		  CNI_V110, CNI_V110, "{'cniVersion':'1.1.0','ips':[{'address':'fd00::1/64'}]}" },
		{ "host bits and gateway kept",
		  "{'cniVersion':'0.1.0','ip4':{'ip':'10.1.2.3/8','gateway':'10.0.0.1'}}", CNI_V110,
		  CNI_V100,
		  "{'cniVersion':'1.0.0','ips':[{'address':'10.1.2.3/8','gateway':'10.0.0.1'}]}" },
		{ "IPv6 text normalised",
		  "{'cniVersion':'1.1.0','ips':[{'address':'2001:DB8:0:0::1/64'}]}", CNI_V110,
		  CNI_V110, "{'cniVersion':'1.1.0','ips':[{'address':'2001:db8::1/64'}]}" },
		{ "dns only survives to 1.1.0", "{'cniVersion':'1.1.0','dns':{'domain':'x'}}",
		  CNI_V110, CNI_V110, "{'cniVersion':'1.1.0','dns':{'domain':'x'}}" },
		{ "dns only cannot become 0.2.0", "{'cniVersion':'1.1.0','dns':{'domain':'x'}}",
		  CNI_V110, CNI_V020, NULL, 1, "no valid IP addresses" },
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct conv_case *c = &cases[i];
		_cleanup_free_ char *in = jq("%s", c->in);
		struct cni_result *r = NULL;
		struct cni_err err = { 0 };
		if (cni_result_parse(in, strlen(in), c->fallback, &r, &err) < 0)
			fail_msg("%s: decode failed: %s", c->name, err.msg);
		cJSON *out = NULL;
		int rc = cni_result_encode(r, c->to, &out, &err);
		if (c->want) {
			if (rc < 0)
				fail_msg("%s: encode failed: %s", c->name, err.msg);
			_cleanup_free_ char *want = jq("%s", c->want);
			assert_json_eq(out, want, c->name);
			cJSON_Delete(out);
		} else {
			if (rc >= 0)
				fail_msg("%s: encode succeeded", c->name);
			assert_null(out);
			assert_int_equal(err.code, c->code);
			if (!strstr(err.msg, c->msg))
				fail_msg("%s: message '%s' lacks '%s'", c->name, err.msg, c->msg);
		}
		cni_result_free(r);
	}
}

/* ---- malformed input ------------------------------------------------------------------- */

struct bad_case {
	const char *in;
	enum cni_version fallback;
	int code;
	const char *msg;
};

static void test_result_decode_malformed_table(void **state)
{
	(void)state;
	const struct bad_case cases[] = {
		{ "[]", CNI_V110, 6, "result: must be an object" },
		{ "'1.0.0'", CNI_V110, 6, "result: must be an object" },
		{ "{'cniVersion':1}", CNI_V110, 6, "cniVersion: must be a string" },
		{ "{'cniVersion':'0.5.0'}", CNI_V110, 1,
		  "incompatible CNI versions: config is \"0.5.0\"" },
		{ "{'cniVersion':'x'}", CNI_V110, 6, "invalid CNI version 'x'" },
		{ "{'cniVersion':'1.0.0','interfaces':{}}", CNI_V110, 6,
		  "interfaces: must be an array" },
		{ "{'cniVersion':'1.0.0','interfaces':[1]}", CNI_V110, 6,
		  "interfaces[0]: must be an object" },
		{ "{'cniVersion':'1.0.0','interfaces':[{'name':'a'},{'mac':'x'}]}", CNI_V110, 6,
		  "interfaces[1].name: missing" },
		{ "{'cniVersion':'1.0.0','interfaces':[{'name':5}]}", CNI_V110, 6,
		  "interfaces[0].name: must be a string" },
		{ "{'cniVersion':'1.1.0','interfaces':[{'name':'a','mtu':-1}]}", CNI_V110, 6,
		  "interfaces[0].mtu: must be between 0 and 4294967295" },
		{ "{'cniVersion':'1.1.0','interfaces':[{'name':'a','mtu':'1500'}]}", CNI_V110, 6,
		  "interfaces[0].mtu: must be an integer" },
		{ "{'cniVersion':'1.1.0','interfaces':[{'name':'a','pciID':true}]}", CNI_V110, 6,
		  "interfaces[0].pciID: must be a string" },
		{ "{'cniVersion':'1.0.0','ips':{}}", CNI_V110, 6, "ips: must be an array" },
		{ "{'cniVersion':'1.0.0','ips':[{'address':'10.0.0.1/8'},{'address':'x'}]}",
		  CNI_V110, 6, "ips[1].address: invalid CIDR 'x'" },
		{ "{'cniVersion':'1.0.0','ips':[{'address':'10.0.0.1'}]}", CNI_V110, 6,
		  "ips[0].address: invalid CIDR '10.0.0.1'" },
		{ "{'cniVersion':'1.0.0','ips':[{'gateway':'10.0.0.1'}]}", CNI_V110, 6,
		  "ips[0].address: missing" },
		{ "{'cniVersion':'1.0.0','ips':[{'address':'10.0.0.2/8','gateway':'10.0.0.256'}]}",
		  CNI_V110, 6, "ips[0].gateway: invalid IP address '10.0.0.256'" },
		{ "{'cniVersion':'1.0.0','ips':[{'address':'10.0.0.2/8','interface':0}]}", CNI_V110,
		  6, "ips[0].interface: index 0 out of range (0 interfaces)" },
		{ "{'cniVersion':'1.0.0','interfaces':[{'name':'a'}],"
		  "'ips':[{'address':'10.0.0.2/8','interface':1}]}",
		  CNI_V110, 6, "ips[0].interface: index 1 out of range (1 interfaces)" },
		{ "{'cniVersion':'1.0.0','interfaces':[{'name':'a'}],"
		  "'ips':[{'address':'10.0.0.2/8','interface':-1}]}",
		  CNI_V110, 6, "ips[0].interface: index -1 out of range" },
		{ "{'cniVersion':'1.0.0','interfaces':[{'name':'a'}],"
		  "'ips':[{'address':'10.0.0.2/8','interface':0.5}]}",
		  CNI_V110, 6, "ips[0].interface: must be an integer" },
		{ "{'cniVersion':'0.4.0','ips':[{'address':'10.0.0.2/8','version':'5'}]}", CNI_V110,
		  6, "ips[0].version: must be \"4\" or \"6\", not '5'" },
		{ "{'cniVersion':'0.4.0','ips':[{'address':'10.0.0.2/8','version':'6'}]}", CNI_V110,
		  6, "ips[0].version: '6' does not match the address" },
		{ "{'cniVersion':'0.4.0','ips':[{'address':'10.0.0.2/8','version':4}]}", CNI_V110,
		  6, "ips[0].version: must be a string" },
		{ "{'cniVersion':'1.0.0','routes':[{'dst':'0.0.0.0/0'},{'gw':'10.0.0.1'}]}",
		  CNI_V110, 6, "routes[1].dst: missing" },
		{ "{'cniVersion':'1.0.0','routes':[{'dst':'0.0.0.0/33'}]}", CNI_V110, 6,
		  "routes[0].dst: invalid CIDR '0.0.0.0/33'" },
		{ "{'cniVersion':'1.0.0','routes':[{'dst':'0.0.0.0/0','gw':'gw'}]}", CNI_V110, 6,
		  "routes[0].gw: invalid IP address 'gw'" },
		{ "{'cniVersion':'1.1.0','routes':[{'dst':'0.0.0.0/0','scope':256}]}", CNI_V110, 6,
		  "routes[0].scope: must be between 0 and 255" },
		{ "{'cniVersion':'1.1.0','routes':[{'dst':'0.0.0.0/0','table':1e10}]}", CNI_V110, 6,
		  "routes[0].table: must be between" },
		{ "{'cniVersion':'1.1.0','routes':[{'dst':'0.0.0.0/0','priority':'1'}]}", CNI_V110,
		  6, "routes[0].priority: must be an integer" },
		{ "{'cniVersion':'1.1.0','routes':[1]}", CNI_V110, 6,
		  "routes[0]: must be an object" },
		{ "{'cniVersion':'1.1.0','dns':[]}", CNI_V110, 6, "dns: must be an object" },
		{ "{'cniVersion':'1.1.0','dns':{'nameservers':['a',1]}}", CNI_V110, 6,
		  "dns.nameservers[1]: must be a string" },
		{ "{'cniVersion':'1.1.0','dns':{'search':'a'}}", CNI_V110, 6,
		  "dns.search: must be an array" },
		{ "{'cniVersion':'1.1.0','dns':{'domain':['a']}}", CNI_V110, 6,
		  "dns.domain: must be a string" },
		{ "{'cniVersion':'0.2.0','ip4':'10.0.0.1/8'}", CNI_V110, 6,
		  "ip4: must be an object" },
		{ "{'cniVersion':'0.2.0','ip4':{}}", CNI_V110, 6, "ip4.ip: missing" },
		{ "{'cniVersion':'0.2.0','ip4':{'ip':'10.0.0.1'}}", CNI_V110, 6,
		  "ip4.ip: invalid CIDR '10.0.0.1'" },
		{ "{'cniVersion':'0.2.0','ip4':{'ip':'fd00::1/64'}}", CNI_V110, 6,
		  "ip4.ip: not an IPv4 address" },
		{ "{'cniVersion':'0.1.0','ip6':{'ip':'10.0.0.1/8'}}", CNI_V110, 6,
		  "ip6.ip: not an IPv6 address" },
		{ "{'cniVersion':'0.2.0','ip4':{'ip':'10.0.0.1/8','gateway':'::g'}}", CNI_V110, 6,
		  "ip4.gateway: invalid IP address '::g'" },
		{ "{'cniVersion':'0.2.0','ip6':{'ip':'fd00::1/64','routes':[{'dst':'::/0'},"
		  "{'dst':'y'}]}}",
		  CNI_V110, 6, "ip6.routes[1].dst: invalid CIDR 'y'" },
		{ "{'ip4':{'ip':'x'}}", CNI_V020, 6, "ip4.ip: invalid CIDR 'x'" },
		{ "{'cniVersion':'1.0.0','ips':[{'address':'10.0.0.1/8'}]} x", CNI_V110, 6,
		  "result: invalid JSON: trailing data" },
		{ "{'cniVersion':", CNI_V110, 6, "result: invalid JSON" },
		{ "", CNI_V110, 6, "result: empty input" },
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct bad_case *c = &cases[i];
		_cleanup_free_ char *in = jq("%s", c->in);
		struct cni_result *r = (struct cni_result *)0x1;
		struct cni_err err = { 0 };
		int rc = cni_result_parse(in, strlen(in), c->fallback, &r, &err);
		if (rc >= 0)
			fail_msg("'%s' accepted", in);
		assert_ptr_equal(r, (struct cni_result *)0x1); /* untouched on error */
		if (err.code != c->code || !strstr(err.msg, c->msg))
			fail_msg("'%s': got code %d '%s', want %d '%s'", in, err.code, err.msg,
				 c->code, c->msg);
	}
}

static void test_result_parse_unterminated(void **state)
{
	(void)state;
	static const char text[] =
		"{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.1/8\"}]}";
	size_t len = strlen(text);
	char *buf = malloc(len); /* no NUL: ASan catches a read past the end */
	memcpy(buf, text, len);
	struct cni_result *r = NULL;
	assert_int_equal(cni_result_parse(buf, len, CNI_V110, &r, NULL), 0);
	free(buf);
	assert_int_equal(r->n_ips, 1);
	assert_int_equal(r->ips[0].address.prefix, 8);
	assert_int_equal(r->ips[0].interface, -1);
	cni_result_free(r);
}

/* ---- building and copying -------------------------------------------------------------- */

static struct cni_result *build_sample(void)
{
	struct cni_result *r = cni_result_new();
	assert_int_equal(cni_result_add_iface(r, "net1", "aa:bb:cc:dd:ee:ff", "/run/netns/x"), 0);
	assert_int_equal(cni_result_add_iface(r, "host0", NULL, NULL), 1);
	r->interfaces[0].mtu = 1500;
	r->interfaces[0].pci_id = xstrdup("0000:01:00.3");
	struct cni_ip ip = { .interface = 0 };
	assert_int_equal(parse_ipnet("10.1.0.5/16", &ip.address), 0);
	assert_int_equal(parse_ip("10.1.0.1", &ip.gateway), 0);
	cni_result_add_ip(r, &ip);
	struct cni_route rt = { .has = CNI_ROUTE_HAS_TABLE | CNI_ROUTE_HAS_SCOPE,
				.table = 100,
				.scope = 253 };
	assert_int_equal(parse_ipnet("192.168.0.0/24", &rt.dst), 0);
	cni_result_add_route(r, &rt);
	struct cni_dns d = { 0 };
	struct cni_err err = { 0 };
	cJSON *dj = cJSON_Parse("{\"nameservers\":[\"1.1.1.1\"],\"search\":[\"a\"]}");
	assert_int_equal(cni_dns_decode(dj, "dns", &d, &err), 0);
	cJSON_Delete(dj);
	cni_dns_copy(&r->dns, &d);
	cni_dns_done(&d);
	return r;
}

static const char SAMPLE_110[] =
	"{'cniVersion':'1.1.0','interfaces':[{'name':'net1','mac':'aa:bb:cc:dd:ee:ff','mtu':1500,"
	"'sandbox':'/run/netns/x','pciID':'0000:01:00.3'},{'name':'host0'}],"
	"'ips':[{'interface':0,'address':'10.1.0.5/16','gateway':'10.1.0.1'}],"
	"'routes':[{'dst':'192.168.0.0/24','table':100,'scope':253}],"
	"'dns':{'nameservers':['1.1.1.1'],'search':['a']}}";

static void test_result_build_and_encode(void **state)
{
	(void)state;
	struct cni_result *r = build_sample();
	cJSON *out = encode(r, CNI_V110);
	_cleanup_free_ char *want = jq("%s", SAMPLE_110);
	assert_json_eq(out, want, "built result");
	cJSON_Delete(out);
	out = encode(r, CNI_V020);
	_cleanup_free_ char *want020 =
		jq("{'cniVersion':'0.2.0','ip4':{'ip':'10.1.0.5/16',"
		   "'gateway':'10.1.0.1','routes':[{'dst':'192.168.0.0/24'}]},"
		   "'dns':{'nameservers':['1.1.1.1'],'search':['a']}}");
	assert_json_eq(out, want020, "built result as 0.2.0");
	cJSON_Delete(out);
	cni_result_free(r);
}

static void test_result_dup_is_deep(void **state)
{
	(void)state;
	struct cni_result *r = build_sample();
	struct cni_result *c = cni_result_dup(r);
	assert_ptr_not_equal(c->interfaces[0].name, r->interfaces[0].name);
	assert_ptr_not_equal(c->dns.nameservers[0], r->dns.nameservers[0]);
	cni_result_free(r); /* the copy must survive its source */
	cJSON *out = encode(c, CNI_V110);
	_cleanup_free_ char *want = jq("%s", SAMPLE_110);
	assert_json_eq(out, want, "dup");
	cJSON_Delete(out);
	cni_result_free(c);

	struct cni_result *empty = cni_result_new();
	struct cni_result *e2 = cni_result_dup(empty);
	assert_int_equal(e2->n_interfaces + e2->n_ips + e2->n_routes, 0);
	assert_true(cni_dns_is_empty(&e2->dns));
	cni_result_free(empty);
	cni_result_free(e2);
}

static void test_result_free_accepts_null(void **state)
{
	(void)state;
	cni_result_free(NULL);
	cni_dns_done(NULL);
	struct cni_dns d = { 0 };
	cni_dns_done(&d);
	cni_dns_done(&d); /* done leaves it reusable */
}

static void test_result_dns_helpers(void **state)
{
	(void)state;
	struct cni_dns d = { 0 };
	struct cni_err err = { 0 };
	assert_true(cni_dns_is_empty(&d));
	assert_int_equal(cni_dns_decode(NULL, "dns", &d, &err), 0);
	assert_true(cni_dns_is_empty(&d));

	cJSON *j = cJSON_Parse("{\"nameservers\":[\"10.0.0.10\",\"fd00::10\"],\"domain\":\"d\","
			       "\"search\":[\"s\"],\"options\":[\"ndots:2\",\"rotate\"]}");
	assert_int_equal(cni_dns_decode(j, "dns", &d, &err), 0);
	assert_false(cni_dns_is_empty(&d));
	assert_int_equal(d.n_nameservers, 2);
	assert_string_equal(d.domain, "d");
	cJSON *out = cni_dns_encode(&d);
	assert_true(cJSON_Compare(out, j, true));
	cJSON_Delete(out);

	cni_dns_copy(&d, &d); /* self-copy is safe */
	assert_string_equal(d.options[1], "rotate");
	struct cni_dns c = { 0 };
	cni_dns_copy(&c, &d);
	cni_dns_done(&d);
	out = cni_dns_encode(&c);
	assert_true(cJSON_Compare(out, j, true));
	cJSON_Delete(out);
	cni_dns_done(&c);
	assert_true(cni_dns_is_empty(&c));

	out = cni_dns_encode(&c);
	assert_null(out->child); /* {} */
	cJSON_Delete(out);
	cJSON_Delete(j);
}

struct dns_bad_case {
	const char *in;
	const char *msg;
};

static void test_result_dns_decode_is_config_error(void **state)
{
	(void)state;
	/* In a netconf a bad "dns" is an invalid config: code 7. */
	const struct dns_bad_case cases[] = {
		{ "[]", "dns: must be an object" },
		{ "{'nameservers':'x'}", "dns.nameservers: must be an array" },
		{ "{'options':['a',{}]}", "dns.options[1]: must be a string" },
		{ "{'domain':1}", "dns.domain: must be a string" },
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		_cleanup_free_ char *in = jq("%s", cases[i].in);
		cJSON *j = cJSON_Parse(in);
		struct cni_dns d = { 0 };
		struct cni_err err = { 0 };
		assert_true(cni_dns_decode(j, "dns", &d, &err) < 0);
		assert_int_equal(err.code, CNI_ERR_INVALID_CONFIG);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("'%s': message '%s' lacks '%s'", in, err.msg, cases[i].msg);
		assert_true(cni_dns_is_empty(&d));
		cJSON_Delete(j);
	}
}

static void test_result_encode_rejects_bad_index(void **state)
{
	(void)state;
	struct cni_result *r = cni_result_new();
	struct cni_ip ip = { .interface = 2 };
	assert_int_equal(parse_ipnet("10.0.0.1/8", &ip.address), 0);
	cni_result_add_ip(r, &ip);
	cJSON *out = NULL;
	struct cni_err err = { 0 };
	assert_true(cni_result_encode(r, CNI_V100, &out, &err) < 0);
	assert_null(out);
	assert_int_equal(err.code, CNI_ERR_INTERNAL);
	assert_non_null(strstr(err.msg, "ips[0].interface"));
	/* 0.2.0 drops interfaces, so the index does not matter there. */
	assert_int_equal(cni_result_encode(r, CNI_V020, &out, &err), 0);
	cJSON_Delete(out);
	cni_result_free(r);
}

static void test_result_decode_null_json(void **state)
{
	(void)state;
	struct cni_result *r = NULL;
	struct cni_err err = { 0 };
	assert_int_equal(cni_result_decode(NULL, CNI_V100, &r, &err), 0);
	assert_non_null(r);
	assert_int_equal(r->n_interfaces + r->n_ips + r->n_routes, 0);
	cni_result_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_result_round_trip_every_version),
		cmocka_unit_test(test_result_convert_every_direction),
		cmocka_unit_test(test_result_conversions_table),
		cmocka_unit_test(test_result_decode_malformed_table),
		cmocka_unit_test(test_result_parse_unterminated),
		cmocka_unit_test(test_result_build_and_encode),
		cmocka_unit_test(test_result_dup_is_deep),
		cmocka_unit_test(test_result_free_accepts_null),
		cmocka_unit_test(test_result_dns_helpers),
		cmocka_unit_test(test_result_dns_decode_is_config_error),
		cmocka_unit_test(test_result_encode_rejects_bad_index),
		cmocka_unit_test(test_result_decode_null_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
