// SPDX-License-Identifier: Apache-2.0
/* Parsing and validation of the k8s.v1.cni.cncf.io/networks annotation (NPWG network-attachment
 * spec). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "lib/cni/args.h"
#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/nad.h"
#include "lib/util/cleanup.h"
#include "meta/networks.h"

#define ANN META_NETWORKS_ANNOTATION

static void selection_done(struct meta_selection *s)
{
	free(s->name);
	free(s->namespace);
	free(s->ifname);
	free(s->mac);
	cJSON_Delete(s->ips);
	cJSON_Delete(s->cni_args);
	cJSON_Delete(s->port_mappings);
	cJSON_Delete(s->bandwidth);
	cJSON_Delete(s->default_route);
	free(s->infiniband_guid);
	free(s->device_id);
	free(s->ipam_claim);
}

void meta_selections_free(struct meta_selection *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		selection_done(&s[i]);
	free(s);
}

static int bad(struct cni_err *err, size_t i, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int bad(struct cni_err *err, size_t i, const char *key, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, ANN ": [%zu]%s%s: %s", i,
			   key ? "." : "", key ? key : "", what);
}

/* The API client's rule and text (kube_nad_check_name), so both refuse the same names. */
static int check_name(size_t i, const char *name, const char *ns, struct cni_err *err)
{
	struct cni_err e = { 0 };
	if (kube_nad_check_name(NULL, name, &e) < 0)
		return bad(err, i, "name", "%s", e.msg);
	if (ns && kube_nad_check_name(ns, name, &e) < 0)
		return bad(err, i, "namespace", "%s", e.msg);
	return 0;
}

static int check_ifname(size_t i, const char *ifname, struct cni_err *err)
{
	struct cni_err e = { 0 };
	if (cni_validate_ifname(ifname, CNI_ERR_INVALID_CONFIG, &e) < 0)
		return bad(err, i, "interface", "'%s' is not a valid interface name", ifname);
	return 0;
}

/* "name", "ns/name", "name@if", "ns/name@if", surrounding blanks trimmed. */
static int parse_short(const char *value, struct meta_selection **ret, size_t *ret_n,
		       struct cni_err *err)
{
	_cleanup_free_ char *copy = xstrdup(value);
	struct meta_selection *sel = NULL;
	size_t n = 0;
	char *save = NULL;
	int r = 0;
	for (char *part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
		while (isspace((unsigned char)*part))
			part++;
		char *end = part + strlen(part);
		while (end > part && isspace((unsigned char)end[-1]))
			*--end = '\0';
		sel = xrealloc(sel, (n + 1) * sizeof(*sel));
		struct meta_selection *s = &sel[n++];
		memset(s, 0, sizeof(*s));
		char *at = strchr(part, '@');
		if (at) {
			*at = '\0';
			s->ifname = xstrdup(at + 1);
			if ((r = check_ifname(n - 1, s->ifname, err)) < 0)
				break;
		}
		char *slash = strchr(part, '/');
		if (slash) {
			*slash = '\0';
			s->namespace = xstrdup(part);
			s->name = xstrdup(slash + 1);
		} else {
			s->name = xstrdup(part);
		}
		if ((r = check_name(n - 1, s->name, s->namespace, err)) < 0)
			break;
	}
	if (r < 0) {
		meta_selections_free(sel, n);
		return r;
	}
	*ret = sel;
	*ret_n = n;
	return 0;
}

static int get_str(const cJSON *o, const char *key, size_t i, char **ret, struct cni_err *err)
{
	const cJSON *v = json_get(o, key);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return bad(err, i, key, "must be a string");
	*ret = xstrdup(v->valuestring);
	return 0;
}

static int check_port_mappings(size_t i, const cJSON *pm, struct cni_err *err)
{
	if (!cJSON_IsArray(pm) || cJSON_GetArraySize(pm) == 0)
		return bad(err, i, "portMappings", "must be a non-empty list");
	const cJSON *m;
	cJSON_ArrayForEach (m, pm) {
		const char *ports[] = { "hostPort", "containerPort" };
		for (size_t k = 0; k < 2; k++) {
			const cJSON *p = json_get(m, ports[k]);
			if (!cJSON_IsNumber(p) || p->valuedouble < 1 || p->valuedouble > 65535 ||
			    p->valuedouble != (double)(int)p->valuedouble)
				return bad(err, i, "portMappings", "%s must be an integer 1-65535",
					   ports[k]);
		}
		const cJSON *proto = json_get(m, "protocol");
		if (proto && (!cJSON_IsString(proto) || (strcasecmp(proto->valuestring, "tcp") &&
							 strcasecmp(proto->valuestring, "udp") &&
							 strcasecmp(proto->valuestring, "sctp"))))
			return bad(err, i, "portMappings", "protocol must be TCP, UDP or SCTP");
	}
	return 0;
}

static int check_bandwidth(size_t i, const cJSON *bw, struct cni_err *err)
{
	if (!cJSON_IsObject(bw))
		return bad(err, i, "bandwidth", "must be an object");
	const char *keys[] = { "ingressRate", "ingressBurst", "egressRate", "egressBurst" };
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		const cJSON *v = json_get(bw, keys[k]);
		if (v && (!cJSON_IsNumber(v) || v->valuedouble <= 0))
			return bad(err, i, "bandwidth", "%s must be a positive integer", keys[k]);
	}
	/* A burst needs its rate. */
	if ((json_get(bw, "ingressBurst") && !json_get(bw, "ingressRate")) ||
	    (json_get(bw, "egressBurst") && !json_get(bw, "egressRate")))
		return bad(err, i, "bandwidth", "a burst needs its rate");
	return 0;
}

static int check_ip_list(size_t i, const char *key, const cJSON *list, bool allow_empty,
			 struct cni_err *err)
{
	if (!cJSON_IsArray(list) || (!allow_empty && cJSON_GetArraySize(list) == 0))
		return bad(err, i, key, "must be a %slist of IP addresses",
			   allow_empty ? "" : "non-empty ");
	const cJSON *v;
	cJSON_ArrayForEach (v, list) {
		struct ip_net n;
		bool prefix;
		if (!cJSON_IsString(v) || parse_ip_or_ipnet(v->valuestring, &n, &prefix) < 0)
			return bad(err, i, key, "invalid IP address '%s'",
				   cJSON_IsString(v) ? v->valuestring : "?");
	}
	return 0;
}

static int parse_element(size_t i, const cJSON *o, struct meta_selection *s, struct cni_err *err)
{
	if (!cJSON_IsObject(o))
		return bad(err, i, NULL, "must be an object");
	int r;
	if ((r = get_str(o, "name", i, &s->name, err)) < 0 ||
	    (r = get_str(o, "namespace", i, &s->namespace, err)) < 0 ||
	    (r = get_str(o, "interface", i, &s->ifname, err)) < 0 ||
	    (r = get_str(o, "mac", i, &s->mac, err)) < 0 ||
	    (r = get_str(o, "infiniband-guid", i, &s->infiniband_guid, err)) < 0 ||
	    (r = get_str(o, "deviceID", i, &s->device_id, err)) < 0 ||
	    (r = get_str(o, "ipam-claim-reference", i, &s->ipam_claim, err)) < 0)
		return r;
	if (!s->name)
		return bad(err, i, "name", "missing");
	if (s->namespace && !*s->namespace) {
		free(s->namespace);
		s->namespace = NULL;
	}
	if ((r = check_name(i, s->name, s->namespace, err)) < 0)
		return r;
	if (s->ifname && (r = check_ifname(i, s->ifname, err)) < 0)
		return r;
	uint8_t mac[MAC_LEN];
	if (s->mac && parse_mac(s->mac, mac) < 0)
		return bad(err, i, "mac", "invalid MAC '%s'", s->mac);
	const cJSON *v;
	if ((v = json_get(o, "ips")) && !cJSON_IsNull(v)) {
		if ((r = check_ip_list(i, "ips", v, false, err)) < 0)
			return r;
		s->ips = cJSON_Duplicate(v, true);
	}
	if (s->ips && s->ipam_claim)
		return bad(err, i, "ips", "cannot be combined with ipam-claim-reference");
	if ((v = json_get(o, "cni-args")) && !cJSON_IsNull(v)) {
		if (!cJSON_IsObject(v))
			return bad(err, i, "cni-args", "must be an object");
		s->cni_args = cJSON_Duplicate(v, true);
	}
	if ((v = json_get(o, "portMappings")) && !cJSON_IsNull(v)) {
		if ((r = check_port_mappings(i, v, err)) < 0)
			return r;
		s->port_mappings = cJSON_Duplicate(v, true);
	}
	if ((v = json_get(o, "bandwidth")) && !cJSON_IsNull(v)) {
		if ((r = check_bandwidth(i, v, err)) < 0)
			return r;
		s->bandwidth = cJSON_Duplicate(v, true);
	}
	if ((v = json_get(o, "default-route"))) {
		if ((r = check_ip_list(i, "default-route", v, true, err)) < 0)
			return r;
		s->has_default_route = true;
		s->default_route = cJSON_Duplicate(v, true);
	}
	return 0;
}

static int parse_json(const char *value, struct meta_selection **ret, size_t *ret_n,
		      struct cni_err *err)
{
	_cleanup_json_ cJSON *json = NULL;
	struct cni_err e = { 0 };
	if (json_parse(value, strlen(value), ANN, &json, &e) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL, "%s", e.msg);
	if (!cJSON_IsArray(json))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   ANN ": the JSON form must be a list of objects");
	size_t n = (size_t)cJSON_GetArraySize(json), i = 0, defaults = 0;
	struct meta_selection *sel = xcalloc(n, sizeof(*sel));
	const cJSON *o;
	int r = 0;
	cJSON_ArrayForEach (o, json) {
		r = parse_element(i, o, &sel[i], err);
		if (r < 0)
			break;
		defaults += sel[i].has_default_route;
		i++;
	}
	if (r == 0 && defaults > 1)
		r = cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				ANN
				": default-route is set on %zu elements, at most one may have it",
				defaults);
	if (r < 0) {
		meta_selections_free(sel, n);
		return r;
	}
	*ret = sel;
	*ret_n = n;
	return 0;
}

int meta_networks_parse(const char *value, struct meta_selection **ret, size_t *ret_n,
			struct cni_err *err)
{
	const char *p = value ? value : "";
	while (isspace((unsigned char)*p))
		p++;
	if (!*p) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (strpbrk(p, "[{\""))
		return parse_json(p, ret, ret_n, err);
	return parse_short(p, ret, ret_n, err);
}
