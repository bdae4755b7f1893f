// SPDX-License-Identifier: Apache-2.0
/* Kubernetes client configuration: kubeconfig parsing with libyaml, in-cluster discovery. */
#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "lib/cni/err.h"
#include "lib/kube/config.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"

#define KUBECONFIG_MAX (1u << 20)

static struct kube_config *config_new(void)
{
	struct kube_config *c = xcalloc(1, sizeof(*c));
	c->connect_timeout_ms = KUBE_CONNECT_TIMEOUT_MS_DEFAULT;
	c->timeout_ms = KUBE_TIMEOUT_MS_DEFAULT;
	c->max_response = KUBE_MAX_RESPONSE_DEFAULT;
	return c;
}

static void free_secret(char *s, size_t len)
{
	if (!s)
		return;
	explicit_bzero(s, len);
	free(s);
}

static void pem_done(struct kube_pem *p, bool secret)
{
	free(p->file);
	if (secret)
		free_secret(p->data, p->len);
	else
		free(p->data);
}

void kube_config_free(struct kube_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->server);
	free(cfg->namespace);
	pem_done(&cfg->ca, false);
	pem_done(&cfg->cert, false);
	pem_done(&cfg->key, true);
	if (cfg->token)
		free_secret(cfg->token, strlen(cfg->token));
	free(cfg->token_file);
	free(cfg);
}

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int kube_base64_decode(const char *in, size_t in_len, char **ret, size_t *ret_len)
{
	if (in_len % 4)
		return -EINVAL;
	_cleanup_free_ char *out = xmalloc(in_len / 4 * 3 + 1);
	size_t n = 0;
	for (size_t i = 0; i < in_len; i += 4) {
		int v[4];
		bool last = i + 4 == in_len;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];
			/* '=' only at the end: "xx==" or "xxx=". */
			if (c == '=' && last && (k == 3 || (k == 2 && in[i + 3] == '=')))
				v[k] = -2;
			else if ((v[k] = b64_val(c)) < 0)
				return -EINVAL;
		}
		out[n++] = (char)(v[0] << 2 | v[1] >> 4);
		if (v[2] >= 0)
			out[n++] = (char)((v[1] & 0xf) << 4 | v[2] >> 2);
		if (v[3] >= 0)
			out[n++] = (char)((v[2] & 0x3) << 6 | v[3]);
	}
	out[n] = '\0';
	*ret = TAKE_PTR(out);
	*ret_len = n;
	return 0;
}

/* ---- libyaml document navigation; `path` strings name keys for error messages ---------- */

struct kc {
	yaml_document_t doc;
	const char *dir; /* the kubeconfig's directory, for relative paths */
};

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *map_get(struct kc *kc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(yaml_document_get_node(&kc->doc, p->key));
		if (k && strcmp(k, key) == 0)
			return yaml_document_get_node(&kc->doc, p->value);
	}
	return NULL;
}

static bool is_null(const yaml_node_t *n)
{
	const char *s = scalar(n);
	return !n || (s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		      (!*s || !strcmp(s, "null") || !strcmp(s, "~")));
}

/* Absent or null -> 0 with *ret NULL; a non-scalar is an error naming path.key. */
static int get_str(struct kc *kc, yaml_node_t *map, const char *path, const char *key,
		   const char **ret, struct cni_err *err)
{
	yaml_node_t *n = map_get(kc, map, key);
	*ret = NULL;
	if (is_null(n))
		return 0;
	if (!scalar(n))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "kubeconfig: %s.%s: expected a string", path, key);
	*ret = scalar(n);
	return 0;
}

static int get_bool(struct kc *kc, yaml_node_t *map, const char *path, const char *key, bool *ret,
		    struct cni_err *err)
{
	const char *s;
	int r = get_str(kc, map, path, key, &s, err);
	if (r < 0)
		return r;
	*ret = false;
	if (!s || !strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return 0;
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
		*ret = true;
		return 0;
	}
	return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "kubeconfig: %s.%s: expected a boolean",
			   path, key);
}

/* Find list[i] whose "name" is `name` and return its `member` mapping; sets *ret_path to
 * "list[i].member". */
static int find_named(struct kc *kc, yaml_node_t *root, const char *list, const char *member,
		      const char *name, const char *referrer, yaml_node_t **ret, char **ret_path,
		      struct cni_err *err)
{
	yaml_node_t *seq = map_get(kc, root, list);
	if (seq && !is_null(seq) && seq->type != YAML_SEQUENCE_NODE)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "kubeconfig: %s: expected a list", list);
	size_t i = 0;
	for (yaml_node_item_t *it =
		     seq && seq->type == YAML_SEQUENCE_NODE ? seq->data.sequence.items.start : NULL;
	     it && it < seq->data.sequence.items.top; it++, i++) {
		yaml_node_t *e = yaml_document_get_node(&kc->doc, *it);
		const char *n = scalar(map_get(kc, e, "name"));
		if (!n || strcmp(n, name) != 0)
			continue;
		yaml_node_t *m = map_get(kc, e, member);
		if (!m || m->type != YAML_MAPPING_NODE)
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
					   "kubeconfig: %s[%zu].%s: expected a mapping", list, i,
					   member);
		*ret = m;
		*ret_path = xasprintf("%s[%zu].%s", list, i, member);
		return 0;
	}
	return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "kubeconfig: %s: no %s named '%s'",
			   referrer, list, name);
}

static char *resolve_path(const struct kc *kc, const char *p)
{
	if (p[0] == '/' || !kc->dir)
		return xstrdup(p);
	return xasprintf("%s/%s", kc->dir, p);
}

/* One credential from `key` (a file path) or `key`-data (base64 PEM); both is an error. */
static int get_pem(struct kc *kc, yaml_node_t *map, const char *path, const char *key,
		   struct kube_pem *ret, struct cni_err *err)
{
	_cleanup_free_ char *data_key = xasprintf("%s-data", key);
	const char *file, *data;
	int r = get_str(kc, map, path, key, &file, err);
	if (r < 0)
		return r;
	r = get_str(kc, map, path, data_key, &data, err);
	if (r < 0)
		return r;
	if (file && data)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "kubeconfig: %s: both %s and %s are set", path, key, data_key);
	if (file) {
		ret->file = resolve_path(kc, file);
		return 0;
	}
	if (!data)
		return 0;
	char *buf;
	size_t len;
	if (kube_base64_decode(data, strlen(data), &buf, &len) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "kubeconfig: %s.%s: invalid base64", path, data_key);
	if (!memmem(buf, len, "-----BEGIN ", 11)) {
		free_secret(buf, len);
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "kubeconfig: %s.%s: not PEM data", path, data_key);
	}
	ret->data = buf;
	ret->len = len;
	return 0;
}

static int refuse_keys(struct kc *kc, yaml_node_t *map, const char *path, const char *const *keys,
		       const char *why, struct cni_err *err)
{
	for (; *keys; keys++)
		if (!is_null(map_get(kc, map, *keys)))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "kubeconfig: %s.%s: %s",
					   path, *keys, why);
	return 0;
}

static int check_server(const char *server, const char *path, struct cni_err *err)
{
	if (strncmp(server, "https://", 8) != 0 || !server[8])
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "kubeconfig: %s.server: '%s' is not an https:// URL", path,
				   server);
	return 0;
}

static char *server_dup(const char *s)
{
	char *r = xstrdup(s);
	size_t n = strlen(r);
	while (n > 8 && r[n - 1] == '/')
		r[--n] = '\0';
	return r;
}

static int load_cluster(struct kc *kc, yaml_node_t *c, const char *path, struct kube_config *cfg,
			struct cni_err *err)
{
	static const char *const unsupported[] = { "tls-server-name", "proxy-url", NULL };
	const char *server;
	bool insecure;
	int r = get_str(kc, c, path, "server", &server, err);
	if (r < 0)
		return r;
	if (!server)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0, "kubeconfig: %s.server: missing",
				   path);
	r = check_server(server, path, err);
	if (r < 0)
		return r;
	r = get_bool(kc, c, path, "insecure-skip-tls-verify", &insecure, err);
	if (r < 0)
		return r;
	/* TLS is always verified, whatever the kubeconfig says (docs/kube.md). */
	if (insecure)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "kubeconfig: %s.insecure-skip-tls-verify: refused, plexus "
				   "always verifies the API server certificate",
				   path);
	r = refuse_keys(kc, c, path, unsupported, "not supported", err);
	if (r < 0)
		return r;
	cfg->server = server_dup(server);
	return get_pem(kc, c, path, "certificate-authority", &cfg->ca, err);
}

static int load_user(struct kc *kc, yaml_node_t *u, const char *path, struct kube_config *cfg,
		     struct cni_err *err)
{
	static const char *const unsupported[] = { "exec", "auth-provider", "username", "password",
						   "as",   "as-groups",	    "as-uid",	NULL };
	const char *token, *token_file;
	int r = refuse_keys(kc, u, path, unsupported,
			    "not supported (use a token or a client "
			    "certificate)",
			    err);
	if (r < 0)
		return r;
	r = get_str(kc, u, path, "token", &token, err);
	if (r < 0)
		return r;
	r = get_str(kc, u, path, "tokenFile", &token_file, err);
	if (r < 0)
		return r;
	if (token && token_file)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "kubeconfig: %s: both token and tokenFile are set", path);
	if (token)
		cfg->token = xstrdup(token);
	if (token_file)
		cfg->token_file = resolve_path(kc, token_file);
	r = get_pem(kc, u, path, "client-certificate", &cfg->cert, err);
	if (r < 0)
		return r;
	r = get_pem(kc, u, path, "client-key", &cfg->key, err);
	if (r < 0)
		return r;
	bool has_cert = cfg->cert.file || cfg->cert.data, has_key = cfg->key.file || cfg->key.data;
	if (has_cert != has_key)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "kubeconfig: %s.%s: missing (needed with %s)", path,
				   has_cert ? "client-key" : "client-certificate",
				   has_cert ? "client-certificate" : "client-key");
	return 0;
}

static int load_doc(struct kc *kc, struct kube_config *cfg, struct cni_err *err)
{
	yaml_node_t *root = yaml_document_get_root_node(&kc->doc);
	if (!root || root->type != YAML_MAPPING_NODE)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "kubeconfig: expected a mapping at the top level");
	const char *current, *cluster, *user, *ns;
	int r = get_str(kc, root, "", "current-context", &current, err);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "kubeconfig: current-context: expected a string");
	if (!current || !*current)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "kubeconfig: current-context: not set");
	yaml_node_t *ctx, *c, *u;
	_cleanup_free_ char *ctx_path = NULL, *c_path = NULL, *u_path = NULL;
	r = find_named(kc, root, "contexts", "context", current, "current-context", &ctx, &ctx_path,
		       err);
	if (r < 0)
		return r;
	r = get_str(kc, ctx, ctx_path, "cluster", &cluster, err);
	if (r < 0)
		return r;
	if (!cluster)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "kubeconfig: %s.cluster: missing", ctx_path);
	r = get_str(kc, ctx, ctx_path, "user", &user, err);
	if (r < 0)
		return r;
	r = get_str(kc, ctx, ctx_path, "namespace", &ns, err);
	if (r < 0)
		return r;
	if (ns)
		cfg->namespace = xstrdup(ns);
	_cleanup_free_ char *cluster_ref = xasprintf("%s.cluster", ctx_path);
	r = find_named(kc, root, "clusters", "cluster", cluster, cluster_ref, &c, &c_path, err);
	if (r < 0)
		return r;
	r = load_cluster(kc, c, c_path, cfg, err);
	if (r < 0)
		return r;
	/* An empty user is anonymous access, as with kubectl. */
	if (!user || !*user)
		return 0;
	_cleanup_free_ char *user_ref = xasprintf("%s.user", ctx_path);
	r = find_named(kc, root, "users", "user", user, user_ref, &u, &u_path, err);
	if (r < 0)
		return r;
	return load_user(kc, u, u_path, cfg, err);
}

int kube_config_load_file(const char *path, struct kube_config **ret, struct cni_err *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = file_read_all(path, KUBECONFIG_MAX, &text, &len);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, r, "kubeconfig '%s': %s", path, strerror(-r));
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return cni_err_set(err, CNI_ERR_INTERNAL, ENOMEM,
				   "kubeconfig: libyaml init failed");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	struct kc kc = { 0 };
	if (!yaml_parser_load(&parser, &kc.doc)) {
		r = cni_err_set(err, CNI_ERR_DECODE, 0, "kubeconfig '%s': line %zu: %s", path,
				parser.problem_mark.line + 1,
				parser.problem ? parser.problem : "invalid YAML");
		yaml_parser_delete(&parser);
		return r;
	}
	yaml_parser_delete(&parser);
	_cleanup_free_ char *pathcopy = xstrdup(path);
	kc.dir = dirname(pathcopy);
	struct kube_config *cfg = config_new();
	r = load_doc(&kc, cfg, err);
	yaml_document_delete(&kc.doc);
	explicit_bzero(text, len);
	if (r < 0) {
		kube_config_free(cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}

int kube_config_load_incluster(const char *sa_dir, struct kube_config **ret, struct cni_err *err)
{
	const char *host = secure_getenv("KUBERNETES_SERVICE_HOST");
	const char *port = secure_getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host || !port || !*port)
		return cni_err_set(
			err, CNI_ERR_INVALID_CONFIG, 0,
			"in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
			"are not set and no kubeconfig was given");
	char *end;
	errno = 0;
	unsigned long p = strtoul(port, &end, 10);
	if (errno || *end || p < 1 || p > 65535 || port[0] < '0' || port[0] > '9')
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "in-cluster: KUBERNETES_SERVICE_PORT: invalid port '%s'", port);
	if (strpbrk(host, "/@?# []"))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, 0,
				   "in-cluster: KUBERNETES_SERVICE_HOST: invalid host '%s'", host);
	if (!sa_dir)
		sa_dir = secure_getenv("PLEXUS_SA_DIR");
	if (!sa_dir || !*sa_dir)
		sa_dir = KUBE_SA_DIR_DEFAULT;
	_cleanup_(kube_config_freep) struct kube_config *cfg = config_new();
	cfg->server = strchr(host, ':') ? xasprintf("https://[%s]:%lu", host, p)
					: xasprintf("https://%s:%lu", host, p);
	cfg->token_file = xasprintf("%s/token", sa_dir);
	cfg->ca.file = xasprintf("%s/ca.crt", sa_dir);
	if (access(cfg->token_file, R_OK) < 0)
		return cni_err_set(err, CNI_ERR_IO, errno, "in-cluster: token '%s': %s",
				   cfg->token_file, strerror(errno));
	if (access(cfg->ca.file, R_OK) < 0)
		return cni_err_set(err, CNI_ERR_IO, errno, "in-cluster: CA '%s': %s", cfg->ca.file,
				   strerror(errno));
	_cleanup_free_ char *ns_file = xasprintf("%s/namespace", sa_dir);
	_cleanup_free_ char *ns = NULL;
	size_t ns_len = 0;
	if (file_read_all(ns_file, 256, &ns, &ns_len) == 0) {
		ns[strcspn(ns, " \t\r\n")] = '\0';
		if (*ns)
			cfg->namespace = TAKE_PTR(ns);
	}
	*ret = TAKE_PTR(cfg);
	return 0;
}

bool kube_config_configured(const char *kubeconfig)
{
	const char *host = secure_getenv("KUBERNETES_SERVICE_HOST");
	const char *port = secure_getenv("KUBERNETES_SERVICE_PORT");
	return (kubeconfig && *kubeconfig) || (host && *host) || (port && *port);
}

int kube_config_load(const char *kubeconfig, struct kube_config **ret, struct cni_err *err)
{
	if (kubeconfig && *kubeconfig)
		return kube_config_load_file(kubeconfig, ret, err);
	return kube_config_load_incluster(NULL, ret, err);
}
