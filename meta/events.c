// SPDX-License-Identifier: Apache-2.0
/* The meta-plugin's pod Events (docs/observability.md, "Events"): one per attachment after a
 * successful ADD, one Warning when an ADD fails. Best effort: never an ADD's error, and all of
 * one ADD's Events share EVENTS_BUDGET_MS. Sent directly (no relay listening), they are
 * correlated as the relay does, with the state of each pod, type and reason in a small file
 * under <cniDir>/events, so that a crash-looping pod PATCHes one Event's count. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/event.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "lib/util/parse.h"
#include "meta/internal.h"

/* What an ADD may spend on its Events: through the relay the ack comes in well under a
 * millisecond; direct, an API server that does not answer costs this, once. */
#define EVENTS_BUDGET_MS 500
/* The state files: at most this many (the least recently used goes first), each at most
 * STATE_SIZE_MAX bytes, and one idle for STATE_TTL_S (the API server's default event-ttl: the
 * Events it names are gone) is removed by DEL and GC. */
#define STATE_DIR "events"
#define STATE_FILES_MAX 256
#define STATE_SIZE_MAX 16384
#define STATE_TTL_S 3600

/* An Event name as kube_event_new makes them: safe in a URL path. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	return n <= KUBE_EVENT_NAME_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

/* One sent Event of the state file into *s; false when any field is not as written. */
static bool sent_parse(const cJSON *j, struct kube_event_sent *s)
{
	struct cni_err e = { 0 };
	const char *hash = NULL, *name = NULL;
	int64_t count = 0, used = 0;
	bool window = false;
	if (!cJSON_IsObject(j) || json_get_string(j, "hash", "hash", &hash, NULL, &e) < 0 ||
	    json_get_string(j, "name", "name", &name, NULL, &e) < 0 ||
	    json_get_int(j, "count", "count", 0, INT32_MAX, &count, NULL, &e) < 0 ||
	    json_get_int(j, "used", "used", 0, INT64_MAX, &used, NULL, &e) < 0 ||
	    json_get_bool(j, "window", "window", &window, NULL, &e) < 0 || !hash || !name ||
	    strlen(hash) != 16 || strspn(hash, "0123456789abcdef") != 16 || !name_ok(name))
		return false;
	*s = (struct kube_event_sent){ .hash = strtoull(hash, NULL, 16),
				       .count = count,
				       .in_window = window,
				       .used_s = used };
	strcpy(s->name, name);
	return s->hash != 0;
}

/* The state file's text for key into *c; false (c left empty) when it is not one this code
 * wrote for key: a torn write, another key's (a hash collision), or anything else. */
static bool state_parse(const char *text, size_t len, const char *key, struct kube_event_corr *c)
{
	_cleanup_json_ cJSON *j = NULL;
	struct cni_err e = { 0 };
	const char *k = NULL;
	int64_t last = 0;
	const cJSON *sent = NULL;
	*c = (struct kube_event_corr){ 0 };
	if (json_parse(text, len, "event state", &j, &e) < 0 || !cJSON_IsObject(j) ||
	    json_get_string(j, "key", "key", &k, NULL, &e) < 0 || !k || strcmp(k, key) != 0 ||
	    json_get_int(j, "last", "last", 0, INT64_MAX, &last, NULL, &e) < 0 ||
	    json_get_array(j, "sent", "sent", &sent, &e) < 0 || !sent ||
	    cJSON_GetArraySize(sent) > KUBE_EVENT_SIMILAR_MAX)
		return false;
	c->last_s = last;
	int i = 0;
	for (const cJSON *x = sent->child; x; x = x->next, i++)
		if (!sent_parse(x, &c->sent[i]))
			goto bad;
	const cJSON *comb = json_get(j, "combined");
	if (comb && !sent_parse(comb, &c->combined))
		goto bad;
	return true;
bad:
	*c = (struct kube_event_corr){ 0 };
	return false;
}

static cJSON *sent_json(const struct kube_event_sent *s)
{
	char hash[17];
	snprintf(hash, sizeof(hash), "%016" PRIx64, s->hash);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "hash", hash);
	cJSON_AddStringToObject(j, "name", s->name);
	cJSON_AddNumberToObject(j, "count", (double)s->count);
	cJSON_AddNumberToObject(j, "used", (double)s->used_s);
	cJSON_AddBoolToObject(j, "window", s->in_window);
	return j;
}

static char *state_text(const char *key, const struct kube_event_corr *c)
{
	_cleanup_json_ cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "key", key);
	cJSON_AddNumberToObject(j, "last", (double)c->last_s);
	cJSON *sent = cJSON_AddArrayToObject(j, "sent");
	for (size_t i = 0; i < KUBE_EVENT_SIMILAR_MAX; i++)
		if (c->sent[i].hash)
			cJSON_AddItemToArray(sent, sent_json(&c->sent[i]));
	if (c->combined.hash)
		cJSON_AddItemToObject(j, "combined", sent_json(&c->combined));
	return json_print(j);
}

/* Remove the state files idle for STATE_TTL_S, and with room the least recently used one when
 * STATE_FILES_MAX remain. Returns how many are left. */
static size_t state_sweep(int dfd, bool room)
{
	_cleanup_close_ int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		return 0;
	(void)TAKE_FD(fd);
	size_t left = 0;
	char oldest[NAME_MAX + 1] = "";
	int64_t oldest_t = INT64_MAX, now = (int64_t)time(NULL);
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (now - (int64_t)st.st_mtime > STATE_TTL_S) {
			(void)unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		left++;
		if ((int64_t)st.st_mtime < oldest_t) {
			oldest_t = (int64_t)st.st_mtime;
			snprintf(oldest, sizeof(oldest), "%s", de->d_name);
		}
	}
	(void)closedir(d);
	/* One new file at a time: removing the oldest one keeps the cap. */
	if (room && left >= STATE_FILES_MAX && oldest[0] && unlinkat(dfd, oldest, 0) == 0)
		left--;
	return left;
}

/* Open (creating, making room) the state file of key in <cniDir>/events and lock it before
 * deadline. Returns the fd or -errno. */
static int state_open(const struct plan *p, const char *key, int64_t deadline)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", p->conf.cni_dir, STATE_DIR);
	int r = file_mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	char name[32];
	snprintf(name, sizeof(name), "%016" PRIx64 ".json", kube_event_hash(key));
	if (faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		(void)state_sweep(dfd, true);
	int fd = file_open_regular(dfd, name, O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		return fd;
	/* Another ADD of the same pod may be correlating: wait for it, within the budget. */
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if ((errno != EWOULDBLOCK && errno != EINTR) || clock_now_ms() >= deadline) {
			(void)close(fd);
			return -ETIMEDOUT;
		}
		(void)usleep(2000);
	}
	return fd;
}

/* Send an Event directly, correlated with its state file; without one (cniDir not writable),
 * a plain POST. */
static int send_direct(struct plan *p, const struct kube_event_pod *pod, const char *type,
		       const char *reason, const char *msg, const char *host, struct cni_err *err)
{
	_cleanup_free_ char *key =
		xasprintf("%s/%s/%s\n%s\n%s", pod->ns, pod->name, pod->uid, type, reason);
	_cleanup_close_ int fd = state_open(p, key, p->events_deadline);
	if (fd < 0)
		log_debug("event state of pod '%s/%s': %s", pod->ns, pod->name, strerror(-fd));
	struct kube_event_corr c = { 0 };
	if (fd >= 0) {
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		/* An empty (new) or unusable file is a fresh start: one more POST at worst. */
		if (file_read_fd(fd, STATE_SIZE_MAX, &text, &len) == 0 && len > 0 &&
		    !state_parse(text, len, key, &c))
			log_debug("event state of pod '%s/%s' is damaged, starting over", pod->ns,
				  pod->name);
	}
	int64_t now_s = (int64_t)time(NULL);
	struct kube_event_step step;
	kube_event_correlate(&c, msg, now_s, &step);
	_cleanup_free_ char *text = step.combined ? kube_event_combined_message(msg) : xstrdup(msg);
	int r = -ENOENT;
	if (step.patch) {
		_cleanup_free_ char *path =
			xasprintf("/api/v1/namespaces/%s/events/%s", pod->ns, step.slot->name);
		_cleanup_free_ char *body =
			kube_event_patch_body(step.slot->count, now_s, step.combined ? text : NULL);
		r = kube_event_request(p->kube, "PATCH", path, body,
				       (long)(p->events_deadline - clock_now_ms()), NULL, err);
		/* Expired in the API server (Events have a TTL): start over. */
		if (r == -ENOENT) {
			step.slot->name[0] = '\0';
			*err = (struct cni_err){ 0 };
		}
	}
	if (r == -ENOENT) {
		_cleanup_json_ cJSON *ev = kube_event_new(pod, type, reason, text, host, now_s);
		_cleanup_free_ char *path = xasprintf("/api/v1/namespaces/%s/events", pod->ns);
		_cleanup_free_ char *body = json_print(ev);
		r = kube_event_request(p->kube, "POST", path, body,
				       (long)(p->events_deadline - clock_now_ms()), NULL, err);
		if (r == 0) {
			snprintf(step.slot->name, sizeof(step.slot->name), "%s",
				 cJSON_GetStringValue(json_get(json_get(ev, "metadata"), "name")));
			step.slot->count = 1;
		}
	}
	if (fd >= 0) {
		/* In place, under the lock: a crash mid-write leaves a file state_parse refuses. */
		_cleanup_free_ char *state = state_text(key, &c);
		size_t len = strlen(state);
		if (pwrite(fd, state, len, 0) != (ssize_t)len || ftruncate(fd, (off_t)len) < 0)
			log_debug("event state of pod '%s/%s': write: %s", pod->ns, pod->name,
				  strerror(errno));
	}
	return r;
}

static void send_event(struct plan *p, const char *type, const char *reason, const char *text)
{
	if (!p->pod_name || !*p->pod_name)
		return;
	struct cni_err e = { 0 };
	int r = meta_kube(p, &e);
	if (r == META_NO_API)
		return; /* no pod object for the Event to be about */
	if (!p->events_deadline)
		p->events_deadline = clock_now_ms() + EVENTS_BUDGET_MS;
	if (r >= 0) {
		const char *uid = cni_ctx_arg(p->ctx, "K8S_POD_UID");
		struct kube_event_pod pod = { .ns = p->pod_ns,
					      .name = p->pod_name,
					      .uid = uid ? uid : "" };
		char host[256];
		kube_event_host(host);
		_cleanup_free_ char *msg = kube_event_message(text);
		r = -ENOENT;
		if (p->conf.api_relay && *p->conf.api_relay) {
			_cleanup_json_ cJSON *ev =
				kube_event_new(&pod, type, reason, msg, host, time(NULL));
			r = kube_event_relay(p->conf.api_relay, &pod, ev, p->events_deadline, &e);
		}
		/* Nothing listens on the relay socket (or none is configured). */
		if (r == -ENOENT || r == -ECONNREFUSED)
			r = send_direct(p, &pod, type, reason, msg, host, &e);
	}
	if (r < 0)
		log_warning("event %s for pod '%s/%s' dropped: %s", reason, p->pod_ns, p->pod_name,
			    e.msg);
}

void meta_events_sweep(const struct plan *p)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", p->conf.cni_dir, STATE_DIR);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd >= 0)
		(void)state_sweep(dfd, false);
}

void meta_events_added(struct plan *p)
{
	for (size_t i = 0; i < p->n_att; i++) {
		const struct attachment *a = &p->att[i];
		_cleanup_free_ char *ips = xstrdup("");
		for (size_t k = 0; a->result && k < a->result->n_ips; k++) {
			char buf[IPNET_STR_LEN];
			format_ipnet(&a->result->ips[k].address, buf);
			char *more = xasprintf("%s%s%s", ips, k ? " " : "", buf);
			free(ips);
			ips = more;
		}
		/* Multus's message shape: "Add net1 [10.1.2.3/24] from default/macvlan". */
		_cleanup_free_ char *text =
			xasprintf("Add %s [%s] from %s", a->ifname, ips, a->name);
		send_event(p, "Normal", KUBE_EVENT_ADDED, text);
	}
}

void meta_events_warning(struct plan *p, const char *reason, const char *text)
{
	send_event(p, "Warning", reason, text);
}

void meta_events_failed(struct plan *p, const char *network, const struct cni_err *err)
{
	_cleanup_free_ char *text =
		network ? xasprintf("Failed to add %s: CNI error %d: %s", network, err->code,
				    err->msg)
			: xasprintf("Failed to add the pod's networks: CNI error %d: %s", err->code,
				    err->msg);
	bool no_nad = err->code == CNI_ERR_KUBE_API && err->sys == ENOENT &&
		      strstr(err->msg, "network-attachment-definitions");
	send_event(p, "Warning", no_nad ? KUBE_EVENT_NO_NETWORK : KUBE_EVENT_ADD_FAILED, text);
}
