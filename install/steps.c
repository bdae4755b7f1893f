// SPDX-License-Identifier: Apache-2.0
/* plexus-install steps: atomic copies, credentials, kubeconfig, cluster network, conflist. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "install/install.h"
#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/util/clock.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"

#define MAX_CONF_SIZE (1024 * 1024)
#define MAX_CRED_SIZE (64 * 1024)

/* Hidden temp name: the runtime only loads .conf, .conflist and .json files and kubelet only execs
 * the plugin's own name, so a crash can leave nothing that is ever picked up. */
static int open_temp(const char *path, char **ret_tmp)
{
	_cleanup_free_ char *copy = xstrdup(path);
	char *slash = strrchr(copy, '/');
	const char *base = slash ? slash + 1 : copy;
	if (slash)
		*slash = '\0';
	_cleanup_free_ char *tmp =
		slash ? xasprintf("%s/.%s.plexus-tmp.XXXXXX", *copy ? copy : "", base)
		      : xasprintf(".%s.plexus-tmp.XXXXXX", base);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret_tmp = TAKE_PTR(tmp);
	return fd;
}

static int fsync_dir(const char *path)
{
	_cleanup_free_ char *copy = xstrdup(path);
	char *slash = strrchr(copy, '/');
	if (slash)
		*(slash == copy ? slash + 1 : slash) = '\0';
	_cleanup_close_ int dfd = open(slash ? copy : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	return fsync(dfd) < 0 ? -errno : 0;
}

/* *fd holds the complete content: set the mode, make it durable, close it, then publish it.
 * Closed before the rename: exec of a file still open for writing fails with ETXTBSY, and the
 * runtime may exec the plugin the moment it appears under its name. */
static int publish(int *fd, const char *tmp, const char *path, unsigned mode)
{
	int r = 0;
	if (fchmod(*fd, mode) < 0 || fsync(*fd) < 0)
		r = -errno;
	if (close(*fd) < 0 && r == 0)
		r = -errno;
	*fd = -1;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	return fsync_dir(path);
}

int inst_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = open_temp(path, &tmp);
	if (fd < 0)
		return fd;
	int r = file_write_all(fd, data, len);
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	return publish(&fd, tmp, path, mode);
}

static int copy_file(const char *src, const char *dst, unsigned mode)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int out = open_temp(dst, &tmp);
	if (out < 0)
		return out;
	char buf[65536];
	int r = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		if ((r = file_write_all(out, buf, (size_t)n)) < 0)
			break;
	}
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	return publish(&out, tmp, dst, mode);
}

/* plexus CNI plugins: "plexus" and "plexus-*", but not the installer, the device plugin or
 * the DRA driver, which are daemons of the DaemonSets, not something the runtime execs. */
static bool is_plugin_name(const char *n)
{
	if (strcmp(n, "plexus") != 0 && strncmp(n, "plexus-", 7) != 0)
		return false;
	return strcmp(n, "plexus-install") != 0 && strcmp(n, "plexus-device-plugin") != 0 &&
	       strcmp(n, "plexus-dra") != 0 && !strchr(n, '.');
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_free(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Sorted names of the regular files of dir that match keep(). */
static int list_dir(const char *dir, bool (*keep)(const char *), char ***ret, int *ret_n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	char **v = NULL;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!keep(e->d_name))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		v = xrealloc(v, (size_t)(n + 1) * sizeof(*v));
		v[n++] = xstrdup(e->d_name);
	}
	(void)closedir(d);
	if (n > 1)
		qsort(v, (size_t)n, sizeof(*v), cmp_str);
	*ret = v;
	*ret_n = n;
	return 0;
}

int inst_copy_binaries(const char *src_dir, const char *dst_dir, struct cni_err *err)
{
	char **names = NULL;
	int n = 0;
	int r = list_dir(src_dir, is_plugin_name, &names, &n);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "--src-bin-dir '%s': %s", src_dir,
				   strerror(-r));
	if (n == 0) {
		strv_free(names, n);
		return cni_err_set(err, CNI_ERR_IO, ENOENT,
				   "--src-bin-dir '%s': no plexus binaries in it", src_dir);
	}
	if ((r = file_mkdir_p(dst_dir, 0755)) < 0) {
		strv_free(names, n);
		return cni_err_set(err, CNI_ERR_IO, -r, "--cni-bin-dir '%s': %s", dst_dir,
				   strerror(-r));
	}
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *src = xasprintf("%s/%s", src_dir, names[i]);
		_cleanup_free_ char *dst = xasprintf("%s/%s", dst_dir, names[i]);
		if ((r = copy_file(src, dst, 0755)) < 0) {
			(void)cni_err_set(err, CNI_ERR_IO, -r, "copy '%s' to '%s': %s", src, dst,
					  strerror(-r));
			strv_free(names, n);
			return r;
		}
		log_info("installed '%s'", dst);
	}
	strv_free(names, n);
	return n;
}

/* Copy src to dst (0600) unless dst already has the same content. */
static int sync_one(const char *src, const char *dst, bool *changed, struct cni_err *err)
{
	_cleanup_free_ char *data = NULL, *old = NULL;
	size_t len = 0, old_len = 0;
	int r = file_read_all(src, MAX_CRED_SIZE, &data, &len);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "service account file '%s': %s", src,
				   strerror(-r));
	if (len == 0)
		return cni_err_set(err, CNI_ERR_IO, ENODATA, "service account file '%s': empty",
				   src);
	if (file_read_all(dst, MAX_CRED_SIZE, &old, &old_len) == 0 && old_len == len &&
	    memcmp(old, data, len) == 0)
		return 0;
	if ((r = inst_write_file(dst, data, len, 0600)) < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "write '%s': %s", dst, strerror(-r));
	*changed = true;
	return 0;
}

int inst_sync_credentials(const struct inst_opts *o, const char *plexus_dir, bool *ret_changed,
			  struct cni_err *err)
{
	_cleanup_free_ char *token = xasprintf("%s/token", o->sa_dir);
	_cleanup_free_ char *ca = xasprintf("%s/ca.crt", o->sa_dir);
	_cleanup_free_ char *token_dst = xasprintf("%s/" INST_TOKEN_NAME, plexus_dir);
	_cleanup_free_ char *ca_dst = xasprintf("%s/" INST_CA_NAME, plexus_dir);
	bool changed = false;
	int r = file_mkdir_p(plexus_dir, 0700);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "--plexus-conf-dir '%s': %s", plexus_dir,
				   strerror(-r));
	if ((r = sync_one(ca, ca_dst, &changed, err)) < 0 ||
	    (r = sync_one(token, token_dst, &changed, err)) < 0)
		return r;
	if (ret_changed)
		*ret_changed = changed;
	return 0;
}

/* A YAML double-quoted scalar: JSON string syntax is a subset of it. */
static char *yaml_str(const char *s)
{
	_cleanup_json_ cJSON *j = cJSON_CreateString(s);
	if (!j)
		abort();
	return json_print(j);
}

int inst_write_kubeconfig(const struct inst_opts *o, const char *plexus_dir, struct cni_err *err)
{
	const char *host = secure_getenv("KUBERNETES_SERVICE_HOST");
	const char *port = secure_getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host || !port || !*port)
		return cni_err_set(
			err, CNI_ERR_INVALID_ENV, EINVAL,
			"KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
			"(the pod's in-cluster API address)");
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
		return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
				   "KUBERNETES_SERVICE_PORT '%s': not a port number", port);
	if (strpbrk(host, "/ \t\r\n@?#[]") && !strchr(host, ':'))
		return cni_err_set(err, CNI_ERR_INVALID_ENV, EINVAL,
				   "KUBERNETES_SERVICE_HOST '%s': not a host name or address",
				   host);
	_cleanup_free_ char *server = strchr(host, ':') ? xasprintf("https://[%s]:%s", host, port)
							: xasprintf("https://%s:%s", host, port);
	_cleanup_free_ char *ca = xasprintf("%s/" INST_CA_NAME, plexus_dir);
	_cleanup_free_ char *token = xasprintf("%s/" INST_TOKEN_NAME, plexus_dir);
	_cleanup_free_ char *q_server = yaml_str(server);
	_cleanup_free_ char *q_ca = yaml_str(inst_host_path(o, ca));
	_cleanup_free_ char *q_token = yaml_str(inst_host_path(o, token));
	_cleanup_free_ char *text = xasprintf(
		"# Written by plexus-install for the plexus CNI plugin; rewritten on every start.\n"
		"# tokenFile is re-read by the plugin on every request; plexus-install keeps it\n"
		"# in sync with the service account token when the kubelet rotates it.\n"
		"apiVersion: v1\n"
		"kind: Config\n"
		"clusters:\n"
		"  - name: local\n"
		"    cluster:\n"
		"      server: %s\n"
		"      certificate-authority: %s\n"
		"users:\n"
		"  - name: plexus\n"
		"    user:\n"
		"      tokenFile: %s\n"
		"contexts:\n"
		"  - name: plexus\n"
		"    context:\n"
		"      cluster: local\n"
		"      user: plexus\n"
		"current-context: plexus\n",
		q_server, q_ca, q_token);
	_cleanup_free_ char *path = xasprintf("%s/" INST_KUBECONFIG_NAME, plexus_dir);
	int r = inst_write_file(path, text, strlen(text), 0600);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "write kubeconfig '%s': %s", path,
				   strerror(-r));
	log_info("wrote kubeconfig '%s' (server %s)", path, server);
	return 0;
}

const char *inst_host_path(const struct inst_opts *o, const char *p)
{
	size_t n = o->host_root ? strlen(o->host_root) : 0;
	while (n > 0 && o->host_root[n - 1] == '/')
		n--;
	if (n > 0 && strncmp(p, o->host_root, n) == 0 && p[n] == '/')
		return p + n;
	return p;
}

void inst_cluster_done(struct inst_cluster *c)
{
	free(c->path);
	free(c->cni_version);
	strv_free(c->caps, c->n_caps);
	*c = (struct inst_cluster){ 0 };
}

bool inst_cluster_equal(const struct inst_cluster *a, const struct inst_cluster *b)
{
	if (strcmp(a->path, b->path) != 0 || strcmp(a->cni_version, b->cni_version) != 0 ||
	    a->n_caps != b->n_caps)
		return false;
	for (int i = 0; i < a->n_caps; i++)
		if (strcmp(a->caps[i], b->caps[i]) != 0)
			return false;
	return true;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && strcmp(s + n - m, suffix) == 0;
}

/* What libcni loads from a conf dir, minus hidden files (editors' and our temp files). */
static bool is_conf_name(const char *n)
{
	return n[0] != '.' &&
	       (has_suffix(n, ".conf") || has_suffix(n, ".conflist") || has_suffix(n, ".json"));
}

static bool is_meta_type(const cJSON *plugin)
{
	const cJSON *t = json_get(plugin, "type");
	return cJSON_IsString(t) &&
	       (strcmp(t->valuestring, "plexus") == 0 || strcmp(t->valuestring, "multus") == 0);
}

static void add_caps(struct inst_cluster *c, const cJSON *plugin)
{
	const cJSON *caps = json_get(plugin, "capabilities"), *e;
	cJSON_ArrayForEach (e, caps) {
		if (!cJSON_IsTrue(e) || !e->string)
			continue;
		bool dup = false;
		for (int i = 0; i < c->n_caps && !dup; i++)
			dup = strcmp(c->caps[i], e->string) == 0;
		if (dup)
			continue;
		c->caps = xrealloc(c->caps, (size_t)(c->n_caps + 1) * sizeof(*c->caps));
		c->caps[c->n_caps++] = xstrdup(e->string);
	}
}

/* Parse one conf file. 1 = plexus's or multus's own kind of conf (skip it), 0 = usable. */
static int load_conf(const char *path, struct inst_cluster *ret, struct cni_err *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = file_read_all(path, MAX_CONF_SIZE, &text, &len);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "cluster network '%s': %s", path,
				   strerror(-r));
	_cleanup_json_ cJSON *conf = NULL;
	if ((r = json_parse(text, len, "cluster network", &conf, err)) < 0)
		return cni_err_wrap(err, "'%s'", path);
	if (!cJSON_IsObject(conf))
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
				   "cluster network '%s': not a JSON object", path);
	const cJSON *plugins = json_get(conf, "plugins"), *p;
	if (plugins && (!cJSON_IsArray(plugins) || cJSON_GetArraySize(plugins) == 0))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "cluster network '%s': plugins: must be a non-empty list", path);
	if (!plugins && !cJSON_IsString(json_get(conf, "type")))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "cluster network '%s': neither 'type' nor 'plugins'", path);
	struct inst_cluster c = { 0 };
	if (plugins) {
		cJSON_ArrayForEach (p, plugins) {
			if (is_meta_type(p)) {
				inst_cluster_done(&c);
				return 1;
			}
			add_caps(&c, p);
		}
	} else {
		if (is_meta_type(conf))
			return 1;
		add_caps(&c, conf);
	}
	const cJSON *v = json_get(conf, "cniVersion");
	if (cJSON_IsString(v) && *v->valuestring) {
		c.cni_version = xstrdup(v->valuestring);
	} else {
		/* libcni reads an absent version as 0.1.0, which cannot chain plugins; 1.0.0 is
		 * what every current runtime speaks. */
		log_warning("cluster network '%s' has no cniVersion, using 1.0.0", path);
		c.cni_version = xstrdup("1.0.0");
	}
	c.path = xstrdup(path);
	*ret = c;
	return 0;
}

int inst_load_cluster(const char *path, struct inst_cluster *ret, struct cni_err *err)
{
	int r = load_conf(path, ret, err);
	if (r == 1)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "--cluster-network '%s': is a plexus/multus conf, not a cluster "
				   "network",
				   path);
	return r;
}

int inst_detect_cluster(const char *conf_dir, struct inst_cluster *ret, struct cni_err *err)
{
	char **names = NULL;
	int n = 0;
	int r = list_dir(conf_dir, is_conf_name, &names, &n);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "--cni-conf-dir '%s': %s", conf_dir,
				   strerror(-r));
	r = cni_err_set(err, CNI_ERR_IO, ENOENT,
			"no cluster network configuration (*.conf, *.conflist, *.json) in '%s'",
			conf_dir);
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i], INST_CONF_NAME) == 0)
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s", conf_dir, names[i]);
		int k = load_conf(path, ret, err);
		if (k == 1) {
			log_info("skipping '%s': a plexus/multus conf", path);
			continue;
		}
		if (k == -ENOENT) {
			/* removed under us */
			r = cni_err_set(err, CNI_ERR_IO, ENOENT,
					"no cluster network configuration in '%s'", conf_dir);
			continue;
		}
		/* A half-written or broken first file must not make us fall through to the next
		 * one: it is the cluster network, so wait for it to become valid. */
		r = k < 0 ? -EAGAIN : 0;
		break;
	}
	strv_free(names, n);
	return r;
}

/* One look: the named file when explicit, else the conf dir's first conf. A missing or not yet
 * valid file is -ENOENT / -EAGAIN, the states worth waiting on. */
static int probe(const char *conf_dir, const char *explicit, struct inst_cluster *ret,
		 struct cni_err *err)
{
	if (!explicit)
		return inst_detect_cluster(conf_dir, ret, err);
	int r = inst_load_cluster(explicit, ret, err);
	if (r == -ENOENT)
		return r;
	if (r < 0 && err->code == CNI_ERR_DECODE)
		return -EAGAIN;
	return r;
}

int inst_wait_cluster(const char *conf_dir, const char *explicit, long timeout_s, int stop_fd,
		      struct inst_cluster *ret, struct cni_err *err)
{
	_cleanup_free_ char *dir = xstrdup(explicit ? explicit : conf_dir);
	if (explicit) {
		char *slash = strrchr(dir, '/');
		if (!slash)
			strcpy(dir, ".");
		else
			*(slash == dir ? slash + 1 : slash) = '\0';
	}
	_cleanup_close_ int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		return cni_err_set(err, CNI_ERR_IO, errno, "inotify: %s", strerror(errno));
	/* Watch first, then look: a file created between the two is still seen. */
	if (inotify_add_watch(fd, dir,
			      IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE |
				      IN_MOVED_FROM) < 0)
		return cni_err_set(err, CNI_ERR_IO, errno, "'%s': inotify: %s", dir,
				   strerror(errno));
	int64_t deadline = timeout_s > 0 ? clock_now_ms() + timeout_s * 1000L : -1;
	bool said = false;
	for (;;) {
		int r = probe(conf_dir, explicit, ret, err);
		if (r == 0)
			return 0;
		if (r != -ENOENT && r != -EAGAIN)
			return r;
		if (!said) {
			log_info("waiting for the cluster network: %s", err->msg);
			said = true;
		}
		int64_t left = deadline < 0 ? -1 : deadline - clock_now_ms();
		if (deadline >= 0 && left <= 0) {
			char why[CNI_ERR_MSG_MAX];
			(void)snprintf(why, sizeof(why), "%s", err->msg);
			return cni_err_set(err, CNI_ERR_TRY_AGAIN, ETIMEDOUT,
					   "--readiness-timeout %lds expired: %s", timeout_s, why);
		}
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = stop_fd, .events = POLLIN } };
		int k = poll(p, stop_fd >= 0 ? 2 : 1, left > INT_MAX ? INT_MAX : (int)left);
		if (k < 0 && errno != EINTR)
			return cni_err_set(err, CNI_ERR_IO, errno, "poll: %s", strerror(errno));
		if (k > 0 && stop_fd >= 0 && p[1].revents)
			return cni_err_set(err, CNI_ERR_TRY_AGAIN, EINTR,
					   "stopped while waiting for the cluster network");
		char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
		while (read(fd, buf, sizeof(buf)) > 0)
			; /* drain: we look again anyway */
	}
}

static char *conflist_text(const struct inst_opts *o, const char *plexus_dir,
			   const struct inst_cluster *c)
{
	static const char *const fixed[] = { "portMappings", "bandwidth",
					     "io.kubernetes.cri.pod-annotations" };
	_cleanup_free_ char *kubeconfig = xasprintf("%s/" INST_KUBECONFIG_NAME, plexus_dir);
	_cleanup_json_ cJSON *root = cJSON_CreateObject();
	cJSON *plugins = cJSON_CreateArray(), *p = cJSON_CreateObject(),
	      *caps = cJSON_CreateObject();
	if (!root || !plugins || !p || !caps)
		abort();
	cJSON_AddStringToObject(root, "cniVersion", c->cni_version);
	cJSON_AddStringToObject(root, "name", "plexus-cni-network");
	cJSON_AddItemToObject(root, "plugins", plugins);
	cJSON_AddItemToArray(plugins, p);
	cJSON_AddStringToObject(p, "type", "plexus");
	cJSON_AddStringToObject(p, "kubeconfig", inst_host_path(o, kubeconfig));
	cJSON_AddStringToObject(p, "clusterNetwork", inst_host_path(o, c->path));
	/* The runtime passes a capability's runtimeConfig only when the conf declares it; the
	 * cluster network's own capabilities must keep reaching it through plexus. */
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		cJSON_AddBoolToObject(caps, fixed[i], true);
	for (int i = 0; i < c->n_caps; i++)
		if (!json_get(caps, c->caps[i]))
			cJSON_AddBoolToObject(caps, c->caps[i], true);
	cJSON_AddItemToObject(p, "capabilities", caps);
	cJSON_AddStringToObject(p, "cniDir", o->cni_dir);
	cJSON_AddStringToObject(p, "confDir", o->nad_conf_dir);
	cJSON_AddStringToObject(p, "logLevel", o->log_level);
	if (o->log_file)
		cJSON_AddStringToObject(p, "logFile", o->log_file);
	if (o->api_relay)
		cJSON_AddStringToObject(p, "apiRelay", o->api_relay);
	char *text = cJSON_Print(root);
	if (!text)
		abort();
	char *out = xasprintf("%s\n", text);
	cJSON_free(text);
	return out;
}

int inst_write_conflist(const struct inst_opts *o, const char *plexus_dir,
			const struct inst_cluster *c, struct cni_err *err)
{
	_cleanup_free_ char *path = xasprintf("%s/" INST_CONF_NAME, o->cni_conf_dir);
	const char *base = strrchr(c->path, '/');
	base = base ? base + 1 : c->path;
	/* The runtime uses the lexically first conf: one sorting before ours would silently
	 * bypass plexus, so refuse rather than install a conf that is never used. */
	_cleanup_free_ char *cdir = xstrdup(c->path);
	char *slash = strrchr(cdir, '/');
	if (slash)
		*slash = '\0';
	if (slash && strcmp(cdir, o->cni_conf_dir) == 0 && strcmp(base, INST_CONF_NAME) < 0)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "cluster network '%s' sorts before '" INST_CONF_NAME
				   "': the runtime would never use plexus; rename it",
				   c->path);
	_cleanup_free_ char *text = conflist_text(o, plexus_dir, c);
	int r = inst_write_file(path, text, strlen(text), 0644);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "write '%s': %s", path, strerror(-r));
	log_info("wrote '%s' (cluster network '%s', cniVersion %s)", path, c->path, c->cni_version);
	return 0;
}
