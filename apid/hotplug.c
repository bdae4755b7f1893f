// SPDX-License-Identifier: Apache-2.0
/* plexus-apid's hot-plug agent (docs/hotplug.md): LIST+WATCH of the node's pods, and for each
 * pod whose networks annotation differs from the one its intent log was planned from, one run of
 * `plexus --hotplug`, which attaches and detaches under the pod's lock. Level-driven: every
 * LIST (start, 410) re-checks every pod. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apid/hotplug.h"
#include "lib/cni/args.h"
#include "lib/cni/err.h"
#include "lib/cni/exec.h"
#include "lib/json/json.h"
#include "lib/kube/pod.h"
#include "lib/kube/watch.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/file.h"
#include "lib/util/log.h"

#define OPT_OUT_ANNOTATION "plexus.io/hotplug"
#define CNI_DIR_DEFAULT "/var/lib/cni/multus"
#define BIN_DIR_DEFAULT "/opt/cni/bin"
#define CONF_DEFAULT "/etc/cni/net.d/00-plexus.conflist"
#define LOG_MAX (4u << 20)
/* One hot-plug, whatever its delegates do (each bounded by delegateTimeoutSeconds). */
#define RUN_TIMEOUT_MS (10 * 60 * 1000)
/* A failed hot-plug is retried after 1 s, doubling up to 5 min, until one succeeds or the
 * annotation changes. */
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS (5 * 60 * 1000)
#define WATCH_RESTART_MS 10000
/* Every pod is checked again this often: one whose intent log appeared (its ADD finished) after
 * its last event is caught here at the latest. */
#define RESYNC_MS 60000

struct pod {
	char *key; /* "ns/name" */
	char *uid;
	char *networks; /* the annotation, NULL when absent */
	bool skip;	/* opted out, or being deleted */
	bool queued;
	bool seen; /* in the LIST being applied */
	int64_t not_before, backoff_ms;
};

/* An intent log as last read, keyed by file name and mtime. */
struct log_entry {
	char *file;
	struct timespec mtime;
	char *cid, *netns, *args, *ifname, *networks, *ns, *name, *uid;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct pod *pods;
	size_t n;
	const struct kube_config *cfg;
	char *cni_dir, *bin_dir, *netconf, *selector;
	struct log_entry *logs; /* the worker's only */
	size_t n_logs;
} hp = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void pod_done(struct pod *p)
{
	free(p->key);
	free(p->uid);
	free(p->networks);
}

static struct pod *pod_find(const char *key)
{
	for (size_t i = 0; i < hp.n; i++)
		if (strcmp(hp.pods[i].key, key) == 0)
			return &hp.pods[i];
	return NULL;
}

/* Record obj (lock held); queue it when it is new, or its annotation or opt-out changed, or
 * always (a LIST: level-driven). */
static void pod_update(const cJSON *obj, bool always)
{
	const cJSON *md = json_get(obj, "metadata"), *ann = json_get(md, "annotations");
	const char *ns = cJSON_GetStringValue(json_get(md, "namespace"));
	const char *name = cJSON_GetStringValue(json_get(md, "name"));
	if (!ns || !name)
		return;
	_cleanup_free_ char *key = xasprintf("%s/%s", ns, name);
	const char *nets = cJSON_GetStringValue(json_get(ann, KUBE_ANN_NETWORKS));
	const char *opt = cJSON_GetStringValue(json_get(ann, OPT_OUT_ANNOTATION));
	bool skip = (opt && strcmp(opt, "false") == 0) || json_get(md, "deletionTimestamp");
	struct pod *p = pod_find(key);
	if (!p) {
		hp.pods = xrealloc(hp.pods, (hp.n + 1) * sizeof(*hp.pods));
		p = &hp.pods[hp.n++];
		*p = (struct pod){ .key = TAKE_PTR(key) };
		always = true;
	}
	p->seen = true;
	const char *uid = cJSON_GetStringValue(json_get(md, "uid"));
	if (!same_str(p->uid, uid)) {
		free(p->uid);
		p->uid = dup_or_null(uid);
		always = true;
	}
	if (always || !same_str(p->networks, nets) || p->skip != skip) {
		free(p->networks);
		p->networks = dup_or_null(nets);
		p->skip = skip;
		p->queued = true;
		/* A new annotation is tried at once, whatever the last one's back-off. */
		p->not_before = 0;
		p->backoff_ms = 0;
	}
}

static void pod_remove(const cJSON *obj)
{
	const cJSON *md = json_get(obj, "metadata");
	const char *ns = cJSON_GetStringValue(json_get(md, "namespace"));
	const char *name = cJSON_GetStringValue(json_get(md, "name"));
	if (!ns || !name)
		return;
	_cleanup_free_ char *key = xasprintf("%s/%s", ns, name);
	struct pod *p = pod_find(key);
	if (!p)
		return;
	pod_done(p);
	*p = hp.pods[--hp.n];
}

static int on_event(void *data, enum kube_watch_event type, const cJSON *obj, struct cni_err *err)
{
	(void)data;
	(void)err;
	(void)pthread_mutex_lock(&hp.lock);
	if (type == KUBE_WATCH_SYNC) {
		for (size_t i = 0; i < hp.n; i++)
			hp.pods[i].seen = false;
		const cJSON *o;
		cJSON_ArrayForEach (o, obj)
			pod_update(o, true);
		for (size_t i = hp.n; i-- > 0;)
			if (!hp.pods[i].seen) {
				pod_done(&hp.pods[i]);
				hp.pods[i] = hp.pods[--hp.n];
			}
		log_info("hot-plug: %zu pod(s) on the node, each checked", hp.n);
	} else if (type == KUBE_WATCH_DELETED) {
		pod_remove(obj);
	} else {
		pod_update(obj, false);
	}
	(void)pthread_cond_signal(&hp.wake);
	(void)pthread_mutex_unlock(&hp.lock);
	return 0;
}

static void log_entry_done(struct log_entry *l)
{
	free(l->file);
	free(l->cid);
	free(l->netns);
	free(l->args);
	free(l->ifname);
	free(l->networks);
	free(l->ns);
	free(l->name);
	free(l->uid);
}

/* What the agent needs of an intent log: where the pod is, how plexus was run for it, and the
 * annotation its attachments were planned from. */
static int log_read(const char *path, struct log_entry *l)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_json_ cJSON *j = NULL;
	size_t len = 0;
	if (file_read_all(path, LOG_MAX, &text, &len) < 0 ||
	    !(j = cJSON_ParseWithLength(text, len)))
		return -EINVAL;
	const char *cid = cJSON_GetStringValue(json_get(j, "containerID"));
	const char *netns = cJSON_GetStringValue(json_get(j, "netns"));
	const char *args = cJSON_GetStringValue(json_get(j, "cniArgs"));
	const cJSON *a;
	cJSON_ArrayForEach (a, json_get(j, "attachments"))
		if (cJSON_IsTrue(json_get(a, "default")) && !l->ifname)
			l->ifname = dup_or_null(cJSON_GetStringValue(json_get(a, "ifname")));
	struct cni_kv *kv = NULL;
	size_t n = 0;
	if (!cid || !netns || !*netns || !args || !l->ifname ||
	    cni_args_parse(args, &kv, &n, NULL) < 0)
		return -EINVAL;
	l->cid = xstrdup(cid);
	l->netns = xstrdup(netns);
	l->args = xstrdup(args);
	l->networks = dup_or_null(cJSON_GetStringValue(json_get(j, "networks")));
	l->ns = dup_or_null(cni_kv_get(kv, n, "K8S_POD_NAMESPACE"));
	l->name = dup_or_null(cni_kv_get(kv, n, "K8S_POD_NAME"));
	l->uid = dup_or_null(cni_kv_get(kv, n, "K8S_POD_UID"));
	cni_kv_free(kv, n);
	return 0;
}

/* Bring the cache of intent logs up to date: re-read only the files that changed. */
static void logs_refresh(void)
{
	struct dirent **ents = NULL;
	int n = scandir(hp.cni_dir, &ents, NULL, alphasort);
	struct log_entry *fresh = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*fresh));
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		const char *f = ents[i]->d_name;
		size_t l = strlen(f);
		struct stat st;
		_cleanup_free_ char *path = xasprintf("%s/%s", hp.cni_dir, f);
		if (l <= 5 || strcmp(f + l - 5, ".json") != 0 || stat(path, &st) < 0 ||
		    !S_ISREG(st.st_mode)) {
			free(ents[i]);
			continue;
		}
		struct log_entry *old = NULL;
		for (size_t j = 0; j < hp.n_logs && !old; j++)
			if (hp.logs[j].file && strcmp(hp.logs[j].file, f) == 0 &&
			    hp.logs[j].mtime.tv_sec == st.st_mtim.tv_sec &&
			    hp.logs[j].mtime.tv_nsec == st.st_mtim.tv_nsec)
				old = &hp.logs[j];
		if (old) {
			fresh[k++] = *old;
			memset(old, 0, sizeof(*old));
		} else {
			struct log_entry e = { .mtime = st.st_mtim };
			if (log_read(path, &e) == 0) {
				e.file = xstrdup(f);
				fresh[k++] = e;
			} else {
				log_entry_done(&e);
			}
		}
		free(ents[i]);
	}
	free(ents);
	for (size_t j = 0; j < hp.n_logs; j++)
		log_entry_done(&hp.logs[j]);
	free(hp.logs);
	hp.logs = fresh;
	hp.n_logs = k;
}

/* One pod: returns 0 when it is as its annotation says (or not ours to touch), < 0 to retry. */
static int reconcile(const char *key, const char *uid, const char *networks)
{
	logs_refresh();
	const struct log_entry *log = NULL;
	size_t matches = 0;
	for (size_t i = 0; i < hp.n_logs; i++) {
		const struct log_entry *l = &hp.logs[i];
		_cleanup_free_ char *k =
			xasprintf("%s/%s", l->ns ? l->ns : "default", l->name ? l->name : "");
		/* A sandbox of an earlier pod of that name, or one whose netns is gone, is left to
		 * the runtime's DEL. */
		if (strcmp(k, key) != 0 || (l->uid && *l->uid && uid && strcmp(l->uid, uid) != 0) ||
		    access(l->netns, F_OK) < 0)
			continue;
		log = l;
		matches++;
	}
	if (matches != 1) {
		if (matches > 1)
			log_warning("hot-plug: pod '%s' has %zu sandboxes on this node, leaving it",
				    key, matches);
		return 0; /* not created yet, or gone: the runtime's */
	}
	if (same_str(log->networks, networks))
		return 0;
	struct cni_exec_req req = {
		.type = "plexus",
		.path = hp.bin_dir,
		.cmd = CNI_CMD_ADD,
		.container_id = log->cid,
		.netns = log->netns,
		.ifname = log->ifname,
		.args = log->args,
		.stdin_data = hp.netconf,
		.stdin_len = strlen(hp.netconf),
		.timeout_ms = RUN_TIMEOUT_MS,
		.arg = "--hotplug",
	};
	struct cni_err e = { 0 };
	_cleanup_free_ char *out = NULL;
	int64_t t0 = clock_now_ms();
	int r = cni_exec_run(&req, &out, NULL, &e);
	if (r >= 0) {
		log_info("hot-plug: pod '%s' now has the networks '%s' (%lld ms)", key,
			 networks ? networks : "", (long long)(clock_now_ms() - t0));
		return 0;
	}
	/* No intent log (any more), or another pod: the runtime's ADD or DEL owns it. */
	if (e.code == CNI_ERR_UNKNOWN_CONTAINER) {
		log_info("hot-plug: pod '%s': %s", key, e.msg);
		return 0;
	}
	log_warning("hot-plug: pod '%s': %s (CNI error %d), retrying later", key, e.msg, e.code);
	return r;
}

/* The next queued pod whose back-off is over (copied out, dequeued); else false and *wait_ms
 * until the earliest back-off ends (-1: none queued). Lock held. */
static bool next_pod(char **key, char **uid, char **nets, int64_t *wait_ms)
{
	int64_t now = clock_now_ms();
	*wait_ms = -1;
	for (size_t i = 0; i < hp.n; i++) {
		struct pod *p = &hp.pods[i];
		if (!p->queued || p->skip)
			continue;
		if (p->not_before > now) {
			int64_t w = p->not_before - now;
			if (*wait_ms < 0 || w < *wait_ms)
				*wait_ms = w;
			continue;
		}
		p->queued = false;
		*key = xstrdup(p->key);
		*uid = dup_or_null(p->uid);
		*nets = dup_or_null(p->networks);
		return true;
	}
	return false;
}

/* One hot-plug at a time: the node's pods share its CPU with the runtime's ADDs. */
static void *worker(void *arg)
{
	(void)arg;
	int64_t resync = clock_now_ms() + RESYNC_MS;
	for (;;) {
		_cleanup_free_ char *key = NULL, *uid = NULL, *nets = NULL;
		int64_t wait_ms = -1;
		(void)pthread_mutex_lock(&hp.lock);
		for (;;) {
			int64_t now = clock_now_ms();
			if (now >= resync) {
				for (size_t i = 0; i < hp.n; i++)
					hp.pods[i].queued = true;
				resync = now + RESYNC_MS;
			}
			if (next_pod(&key, &uid, &nets, &wait_ms))
				break;
			if (wait_ms < 0 || wait_ms > resync - now)
				wait_ms = resync - now;
			struct timespec until;
			(void)clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += wait_ms / 1000;
			until.tv_nsec += (wait_ms % 1000) * 1000000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			(void)pthread_cond_timedwait(&hp.wake, &hp.lock, &until);
		}
		(void)pthread_mutex_unlock(&hp.lock);
		int r = reconcile(key, uid, nets);
		(void)pthread_mutex_lock(&hp.lock);
		struct pod *p = pod_find(key);
		/* Retried unless the pod went away or changed meanwhile (then it is queued anew).
		 */
		if (r < 0 && p && !p->queued) {
			p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : RETRY_MIN_MS;
			if (p->backoff_ms > RETRY_MAX_MS)
				p->backoff_ms = RETRY_MAX_MS;
			p->not_before = clock_now_ms() + p->backoff_ms;
			p->queued = true;
		} else if (p && r >= 0 && !p->queued) {
			p->backoff_ms = 0;
		}
		(void)pthread_mutex_unlock(&hp.lock);
	}
	return NULL;
}

static void *watcher(void *arg)
{
	(void)arg;
	struct kube_watch w = {
		.path = "/api/v1/pods",
		.sel = { .field = hp.selector },
		.on_event = on_event,
		.stop_fd = -1,
	};
	for (;;) {
		struct cni_err e = { 0 };
		(void)kube_watch_run(hp.cfg, &w, &e);
		/* Refused for good (403: the RBAC lacks pods list/watch): said, and tried again. */
		log_error("hot-plug: watching the node's pods: %s; again in %d s", e.msg,
			  WATCH_RESTART_MS / 1000);
		struct timespec pause = { .tv_sec = WATCH_RESTART_MS / 1000 };
		(void)nanosleep(&pause, NULL);
	}
	return NULL;
}

/* The plexus netconf the runtime would run: the conflist's plexus plugin with the list's
 * cniVersion and name, or the conf itself. */
static int load_conf(const struct apid_hotplug_opts *o, struct cni_err *err)
{
	const char *path = o->conf ? o->conf : CONF_DEFAULT;
	_cleanup_free_ char *text = NULL;
	_cleanup_json_ cJSON *j = NULL;
	size_t len = 0;
	int r = file_read_all(path, LOG_MAX, &text, &len);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "--conf '%s': %s", path, strerror(-r));
	if ((r = json_parse(text, len, path, &j, err)) < 0)
		return cni_err_wrap(err, "--conf");
	_cleanup_json_ cJSON *conf = NULL;
	const cJSON *pl;
	cJSON_ArrayForEach (pl, json_get(j, "plugins")) {
		const char *type = cJSON_GetStringValue(json_get(pl, "type"));
		if (!conf && type && (!strcmp(type, "plexus") || !strcmp(type, "multus"))) {
			conf = cJSON_Duplicate(pl, true);
			for (const char *k = "cniVersion"; k; k = strcmp(k, "name") ? "name" : NULL)
				if (!json_get(conf, k) && json_get(j, k))
					cJSON_AddItemToObject(
						conf, k, cJSON_Duplicate(json_get(j, k), true));
		}
	}
	const char *type = cJSON_GetStringValue(json_get(j, "type"));
	if (!conf && type && (!strcmp(type, "plexus") || !strcmp(type, "multus")))
		conf = cJSON_Duplicate(j, true);
	if (!conf)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "--conf '%s': no plugin of type 'plexus' in it", path);
	const char *dir = o->cni_dir ? o->cni_dir : cJSON_GetStringValue(json_get(conf, "cniDir"));
	hp.cni_dir = xstrdup(dir ? dir : CNI_DIR_DEFAULT);
	/* --cni-dir wins over the conf's, for the plugin too. */
	cJSON_DeleteItemFromObjectCaseSensitive(conf, "cniDir");
	cJSON_AddStringToObject(conf, "cniDir", hp.cni_dir);
	const char *bin = cJSON_GetStringValue(json_get(conf, "binDir"));
	hp.bin_dir = xstrdup(bin && *bin ? bin : BIN_DIR_DEFAULT);
	hp.netconf = json_print(conf);
	return 0;
}

int apid_hotplug_start(const struct kube_config *cfg, const struct apid_hotplug_opts *o,
		       struct cni_err *err)
{
	if (!o->node || !*o->node)
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "--node-name (or NODE_NAME): needed with --hotplug");
	int r = load_conf(o, err);
	if (r < 0)
		return r;
	hp.cfg = cfg;
	hp.selector = xasprintf("spec.nodeName=%s", o->node);
	void *(*fns[])(void *) = { worker, watcher };
	for (size_t i = 0; i < 2; i++) {
		pthread_t t;
		r = pthread_create(&t, NULL, fns[i], NULL);
		if (r != 0)
			return cni_err_set(err, CNI_ERR_INTERNAL, r, "hot-plug thread: %s",
					   strerror(r));
		(void)pthread_detach(t);
	}
	log_info("hot-plug: watching the pods of node '%s'; intent logs in '%s', plexus in '%s'",
		 o->node, hp.cni_dir, hp.bin_dir);
	return 0;
}
