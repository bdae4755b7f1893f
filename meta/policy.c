// SPDX-License-Identifier: Apache-2.0
/* tenantPolicy: what a NAD author and a pod author may make the root-run meta-plugin do
 * (docs/security.md). Everything here runs before the intent log and before any exec. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delegates/dlg.h"
#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "meta/conf.h"
#include "meta/networks.h"
#include "meta/policy.h"

#define KNOB "tenantPolicy"

/* The meta-plugin and the node daemons: run as a delegate they would take node-admin keys
 * (binDir, kubeconfig...) from the NAD. Refused for every network, trusted or not. */
static const char *const always_denied[] = {
	"plexus", "multus", "multus-shim", "plexus-apid", "plexus-install", "plexus-device-plugin",
};

/* The built-ins under both names, and reference plugins that only touch the pod's netns or
 * its own host-side link, bridge or iptables rules. Not host-device: it moves any host link
 * into the pod. */
static const char *const default_allowed[] = {
	"macvlan",
	"plexus-macvlan",
	"ipvlan",
	"plexus-ipvlan",
	"vxlan",
	"plexus-vxlan",
	"sriov",
	"plexus-sriov",
	"host-local",
	"plexus-host-local",
	"plexus-hostlocal",
	"static",
	"plexus-static",
	"plexus-staticipam",
	"bridge",
	"vlan",
	"ptp",
	"tap",
	"dummy",
	"loopback",
	"tuning",
	"portmap",
	"bandwidth",
	"firewall",
	"sbr",
	"vrf",
	"dhcp",
	"whereabouts",
};

/* Keys that name host files, binaries, sockets or credentials of the node (the meta conf's,
 * the common netconf's logFile, whereabouts', flannel's) or host iptables state. A key listed
 * in hostPathRoots is checked against its roots instead. */
static const char *const admin_only[] = {
	"logFile",
	"log_file",
	"binDir",
	"cniDir",
	"confDir",
	"kubeconfig",
	"apiRelay",
	"readinessindicatorfile",
	"podResourcesSocket",
	"deviceInfoDir",
	"tenantPolicy",
	"dataDir",
	"resolvConf",
	"daemonSocketPath",
	"configuration_path",
	"etcd_key_file",
	"etcd_cert_file",
	"etcd_ca_cert_file",
	"subnetFile",
	"iptablesAdminChainName",
	"conditionsV4",
	"conditionsV6",
};

/* Keys the runtime or the meta-plugin itself fills in (CNI SPEC.md, "Section 3: Execution of
 * Network Configurations"; deviceID/pciBusID come from the NAD's resourceName via kubelet). */
static const char *const injected[] = { "runtimeConfig", "prevResult", "deviceID", "pciBusID" };

static const struct {
	const char *key;
	const char *roots[3];
} default_roots[] = {
	{ "dataDir", { "/var/lib/cni/networks" } }, /* host-local's default */
	{ "resolvConf",
	  { "/etc/resolv.conf", "/run/systemd/resolve/resolv.conf",
	    "/run/systemd/resolve/stub-resolv.conf" } },
	{ "daemonSocketPath", { "/run/cni/dhcp.sock" } }, /* the dhcp daemon's default */
	{ "kubeconfig", { "/etc/cni/net.d/whereabouts.d" } },
};

/* Whether a JSON member named key reaches the field named want in a plugin written in Go:
 * encoding/json matches member names case-insensitively, with Unicode folding that also takes
 * U+017F (long s) for 's' and U+212A (Kelvin sign) for 'k'. A check by exact name would let
 * "DataDir" or "TYPE" past it to the reference plugins. */
static bool key_is(const char *key, const char *want)
{
	const unsigned char *k = (const unsigned char *)key;
	for (const char *w = want; *w; w++) {
		char c = (char)tolower((unsigned char)*w);
		if (c == 's' && k[0] == 0xc5 && k[1] == 0xbf)
			k += 2;
		else if (c == 'k' && k[0] == 0xe2 && k[1] == 0x84 && k[2] == 0xaa)
			k += 3;
		else if (*k && (char)tolower(*k) == c)
			k++;
		else
			return false;
	}
	return *k == '\0';
}

static bool key_in(const char *const *list, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (key_is(key, list[i]))
			return true;
	return false;
}

static bool in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void strv_add(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

void meta_policy_done(struct meta_policy *p)
{
	strv_free(p->trusted, p->n_trusted);
	strv_free(p->allowed, p->n_allowed);
	strv_free(p->denied, p->n_denied);
	for (size_t i = 0; i < p->n_roots; i++) {
		free(p->roots[i].key);
		strv_free(p->roots[i].roots, p->roots[i].n);
	}
	free(p->roots);
	memset(p, 0, sizeof(*p));
}

bool meta_policy_trusted(const struct meta_policy *p, const char *ns)
{
	return ns && in_list((const char *const *)p->trusted, p->n_trusted, ns);
}

/* A plugin type is looked up as a file name in CNI_PATH: no directories, no "." or "..". */
static bool plain_name(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Absolute, and no empty, "." or ".." component (so "/" only as the root itself). */
static bool clean_abs_path(const char *s)
{
	if (s[0] != '/')
		return false;
	if (s[1] == '\0')
		return true;
	for (const char *c = s + 1;;) {
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!*end)
			return true;
		c = end + 1;
	}
}

/* Component-wise: path is root or below it. */
static bool under(const char *path, const char *root)
{
	size_t n = strlen(root);
	if (strcmp(root, "/") == 0)
		return true;
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int get_list(const cJSON *obj, const char *key, bool (*valid)(const char *),
		    const char *what, char ***ret, size_t *ret_n, bool *ret_present,
		    struct cni_err *err)
{
	const cJSON *v = NULL;
	struct cni_err ignored = { 0 };
	if (json_get_array(obj, key, key, &v, &ignored) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   KNOB ".%s: must be a list of %s", key, what);
	*ret_present = v != NULL;
	const cJSON *e;
	size_t i = 0;
	cJSON_ArrayForEach (e, v) {
		if (!cJSON_IsString(e) || !valid(e->valuestring))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   KNOB ".%s[%zu]: must be %s", key, i, what);
		strv_add(ret, ret_n, e->valuestring);
		i++;
	}
	return 0;
}

static bool nonempty(const char *s)
{
	return *s;
}

static struct meta_policy_roots *roots_of(const struct meta_policy *p, const char *key)
{
	for (size_t i = 0; i < p->n_roots; i++)
		if (strcmp(p->roots[i].key, key) == 0)
			return &p->roots[i];
	return NULL;
}

/* The roots of the hostPathRoots key a member named key would set (key_is). */
static const struct meta_policy_roots *roots_for_member(const struct meta_policy *p,
							const char *key)
{
	for (size_t i = 0; i < p->n_roots; i++)
		if (key_is(key, p->roots[i].key))
			return &p->roots[i];
	return NULL;
}

static int parse_roots(const cJSON *obj, struct meta_policy *p, struct cni_err *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(default_roots); i++) {
		p->roots = xrealloc(p->roots, (p->n_roots + 1) * sizeof(*p->roots));
		struct meta_policy_roots *e = &p->roots[p->n_roots++];
		*e = (struct meta_policy_roots){ .key = xstrdup(default_roots[i].key) };
		for (size_t k = 0; k < 3 && default_roots[i].roots[k]; k++)
			strv_add(&e->roots, &e->n, default_roots[i].roots[k]);
	}
	if (!obj || cJSON_IsNull(obj))
		return 0;
	if (!cJSON_IsObject(obj))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   KNOB
				   ".hostPathRoots: must be an object of key -> list of paths");
	const cJSON *kv;
	cJSON_ArrayForEach (kv, obj) {
		if (!cJSON_IsArray(kv) || !*kv->string)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
					   KNOB
					   ".hostPathRoots.%s: must be a list of absolute paths",
					   kv->string);
		/* A key the admin names replaces its default roots; [] refuses the key. */
		struct meta_policy_roots *e = roots_of(p, kv->string);
		if (!e) {
			p->roots = xrealloc(p->roots, (p->n_roots + 1) * sizeof(*p->roots));
			e = &p->roots[p->n_roots++];
			*e = (struct meta_policy_roots){ .key = xstrdup(kv->string) };
		}
		strv_free(e->roots, e->n);
		e->roots = NULL;
		e->n = 0;
		const cJSON *v;
		size_t i = 0;
		cJSON_ArrayForEach (v, kv) {
			if (!cJSON_IsString(v) || !clean_abs_path(v->valuestring))
				return cni_err_set(
					err, CNI_ERR_INVALID_CONFIG, EINVAL,
					KNOB ".hostPathRoots.%s[%zu]: must be an absolute path "
					     "without '.', '..' or empty components",
					kv->string, i);
			strv_add(&e->roots, &e->n, v->valuestring);
			i++;
		}
	}
	return 0;
}

static int parse(const cJSON *tp, const char *multus_ns, struct meta_policy *p, struct cni_err *err)
{
	bool present = false;
	int r = get_list(tp, "trustedNamespaces", nonempty, "namespace names", &p->trusted,
			 &p->n_trusted, &present, err);
	if (r < 0)
		return r;
	if (!present)
		strv_add(&p->trusted, &p->n_trusted, multus_ns);
	r = get_list(tp, "allowedTypes", plain_name, "plain plugin names", &p->allowed,
		     &p->n_allowed, &present, err);
	if (r < 0)
		return r;
	for (size_t i = 0; !present && i < ARRAY_SIZE(default_allowed); i++)
		strv_add(&p->allowed, &p->n_allowed, default_allowed[i]);
	r = get_list(tp, "deniedTypes", plain_name, "plain plugin names", &p->denied, &p->n_denied,
		     &present, err);
	if (r < 0)
		return r;
	if ((r = parse_roots(json_get(tp, "hostPathRoots"), p, err)) < 0)
		return r;
	int64_t v = 32;
	if ((r = json_get_int(tp, "maxAttachments", KNOB ".maxAttachments", 0, 1024, &v, NULL,
			      err)) < 0)
		return r;
	p->max_attachments = (long)v;
	v = 32 * 1024;
	if ((r = json_get_int(tp, "maxAnnotationBytes", KNOB ".maxAnnotationBytes", 1, 1 << 20, &v,
			      NULL, err)) < 0)
		return r;
	p->max_annotation_bytes = (long)v;
	return 0;
}

int meta_policy_parse(const cJSON *conf, const char *multus_ns, struct meta_policy *ret,
		      struct cni_err *err)
{
	const cJSON *tp = NULL;
	int r = json_get_object(conf, KNOB, KNOB, &tp, err);
	if (r < 0)
		return r;
	struct meta_policy p = { 0 };
	r = parse(tp, multus_ns, &p, err);
	if (r < 0) {
		meta_policy_done(&p);
		return r;
	}
	*ret = p;
	return 0;
}

/* ---- the check of one network's config --------------------------------------------------- */

struct walk {
	const struct meta_policy *p;
	const char *network;
	bool admin;
	struct cni_err *err;
};

static int refuse(const struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(const struct walk *w, const char *fmt, ...)
{
	char what[CNI_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return cni_err_set(w->err, CNI_ERR_INVALID_CONFIG, EPERM, "network '%s': %s", w->network,
			   what);
}

static int check_type(const struct walk *w, const char *path, const char *type)
{
	const struct meta_policy *p = w->p;
	if (!plain_name(type))
		return refuse(w, "%s '%s' is not a plain plugin name", path, type);
	if (in_list(always_denied, ARRAY_SIZE(always_denied), type))
		return refuse(w, "%s '%s' is never run as a delegate", path, type);
	if (in_list((const char *const *)p->denied, p->n_denied, type))
		return refuse(w, "%s '%s' is in " KNOB ".deniedTypes", path, type);
	if (!w->admin && !in_list((const char *const *)p->allowed, p->n_allowed, type))
		return refuse(w, "%s '%s' is not in " KNOB ".allowedTypes", path, type);
	return 0;
}

static void roots_text(const struct meta_policy_roots *e, char *buf, size_t size)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < e->n && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? " " : "", e->roots[i]);
}

static int check_path(const struct walk *w, const char *path, const struct meta_policy_roots *e,
		      const cJSON *v)
{
	if (!cJSON_IsString(v))
		return refuse(w, "%s must be a string path (" KNOB ".hostPathRoots.%s)", path,
			      e->key);
	const char *s = v->valuestring;
	char roots[256];
	roots_text(e, roots, sizeof(roots));
	if (!clean_abs_path(s))
		return refuse(w,
			      "%s '%s' must be an absolute path without '.', '..' or empty "
			      "components, under " KNOB ".hostPathRoots.%s [%s]",
			      path, s, e->key, roots);
	for (size_t i = 0; i < e->n; i++)
		if (under(s, e->roots[i]))
			return 0;
	return refuse(w, "%s '%s' is outside " KNOB ".hostPathRoots.%s [%s]", path, s, e->key,
		      roots);
}

static int check_key(const struct walk *w, const char *path, const char *key, const cJSON *v)
{
	const struct meta_policy_roots *e = roots_for_member(w->p, key);
	if (e)
		return check_path(w, path, e, v);
	if (key_in(admin_only, ARRAY_SIZE(admin_only), key))
		return refuse(w,
			      "%s is a node-admin key; allow it with " KNOB ".hostPathRoots.%s "
			      "or trust the namespace in " KNOB ".trustedNamespaces",
			      path, key);
	if (key_in(injected, ARRAY_SIZE(injected), key) || strncasecmp(key, "cni.dev/", 8) == 0)
		return refuse(w,
			      "%s is set by the runtime, not by a network; only "
			      "" KNOB ".trustedNamespaces may set it",
			      path);
	return 0;
}

static int walk(const struct walk *w, const cJSON *node, char *path, size_t len)
{
	const cJSON *c;
	size_t i = 0;
	int r;
	cJSON_ArrayForEach (c, node) {
		size_t size = 512 - len;
		if (cJSON_IsArray(node))
			(void)snprintf(path + len, size, "[%zu]", i++);
		else
			(void)snprintf(path + len, size, "%s%s", len ? "." : "", c->string);
		size_t clen = strlen(path);
		if (cJSON_IsObject(node)) {
			if (key_is(c->string, "type") && cJSON_IsString(c) &&
			    (r = check_type(w, path, c->valuestring)) < 0)
				return r;
			/* Capabilities only switch runtime arguments on ("deviceID": true). */
			if (strcmp(c->string, "capabilities") == 0)
				continue;
			if (!w->admin && (r = check_key(w, path, c->string, c)) < 0)
				return r;
		}
		if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && (r = walk(w, c, path, clen)) < 0)
			return r;
		path[len] = '\0';
	}
	return 0;
}

int meta_policy_check_network(const struct meta_policy *p, const char *network,
			      const struct dlg_list *l, bool admin, struct cni_err *err)
{
	struct walk w = { .p = p, .network = network, .admin = admin, .err = err };
	char path[512] = "";
	return walk(&w, l->json, path, 0);
}

/* ---- cni-args, bounds, isolation ----------------------------------------------------------- */

int meta_policy_check_cni_args(const char *network, const struct dlg_list *l, const cJSON *cni_args,
			       struct cni_err *err)
{
	/* Top level of spec.config: a conflist's, or the single config's (now plugins[0]). */
	if (cJSON_IsTrue(json_get(l->json, "allowCniArgs")) ||
	    cJSON_IsTrue(json_get(cJSON_GetArrayItem(l->plugins, 0), "allowCniArgs")))
		return 0;
	const cJSON *kv;
	cJSON_ArrayForEach (kv, cni_args) {
		const char *k = kv->string;
		bool cap = strcmp(k, "ips") == 0 || strcmp(k, "mac") == 0;
		if (cap && dlg_list_declares(l, k))
			continue;
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EPERM,
				   "network '%s': cni-args.%s %s; the network may opt in with "
				   "\"allowCniArgs\": true",
				   network, k,
				   cap ? "needs the capability the network does not declare"
				       : "is not accepted from the pod");
	}
	return 0;
}

int meta_policy_check_pod(const struct meta_conf *c, const char *pod_ns, const cJSON *annotations,
			  struct cni_err *err)
{
	const struct meta_policy *p = &c->policy;
	/* plan_secondary's rule: no defaultNetworks for systemNamespaces pods. */
	size_t n_default_networks = 0;
	if (!meta_ns_in(c->system_namespaces, c->n_system_namespaces, pod_ns))
		n_default_networks = (size_t)cJSON_GetArraySize(c->default_networks);
	const char *keys[] = { META_NETWORKS_ANNOTATION, META_DEFAULT_NETWORK_ANNOTATION };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *v = cJSON_GetStringValue(json_get(annotations, keys[i]));
		size_t n = v ? strlen(v) : 0;
		if (n > (size_t)p->max_annotation_bytes)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, E2BIG,
					   "%s: %zu bytes, more than " KNOB
					   ".maxAnnotationBytes (%ld)",
					   keys[i], n, p->max_annotation_bytes);
	}
	struct meta_selection *sel = NULL;
	size_t n = 0;
	int r = meta_networks_parse(
		cJSON_GetStringValue(json_get(annotations, META_NETWORKS_ANNOTATION)), &sel, &n,
		err);
	if (r < 0)
		return r;
	meta_selections_free(sel, n);
	if (n + n_default_networks > (size_t)p->max_attachments)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, E2BIG,
				   "%zu networks requested (%zu selected, %zu defaultNetworks), "
				   "more than " KNOB ".maxAttachments (%ld)",
				   n + n_default_networks, n, n_default_networks,
				   p->max_attachments);
	return 0;
}

int meta_policy_check_isolation(bool isolation, char *const *global, size_t n_global,
				const char *pod_ns, const char *ns, const char *name,
				struct cni_err *err)
{
	if (!isolation || strcmp(ns, pod_ns) == 0 ||
	    in_list((const char *const *)global, n_global, ns))
		return 0;
	return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EPERM,
			   "namespace isolation: pod in '%s' may not use network '%s/%s'", pod_ns,
			   ns, name);
}
