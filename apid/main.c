// SPDX-License-Identifier: Apache-2.0
/* plexus-apid: the node's Kubernetes API relay for the meta-plugin (lib/kube/relay.h). */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "apid/attach.h"
#include "apid/events.h"
#include "apid/vxpeers.h"
#include "apid/hotplug.h"
#include "apid/reclaim.h"
#include "lib/cni/err.h"
#include "lib/json/json.h"
#include "lib/kube/config.h"
#include "lib/kube/http.h"
#include "lib/kube/relay.h"
#include "lib/metrics/http.h"
#include "lib/metrics/metrics.h"
#include "lib/util/clock.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "lib/util/parse.h"
#include "lib/util/sock.h"

#define SOCKET_DEFAULT "/run/plexus/api.sock"
#define METRICS_DEFAULT "127.0.0.1:9453"
#define WORKERS_DEFAULT 4
#define WORKERS_MAX 64
#define CLIENTS_DEFAULT 64
#define CLIENTS_MAX 1024
/* Each request's deadline, from its accept: the request must be in within READ_MS (the plugin
 * sends it at once, and stops waiting for our ack after KUBE_RELAY_ACK_MS), the API call gets
 * at most the kubeconfig's timeout, the answer ANSWER_MS more. */
#define READ_MS KUBE_RELAY_ACK_MS
#define ANSWER_MS 1000

static const char usage[] =
	"Usage: plexus-apid [OPTION]...\n"
	"Relay the plexus meta-plugin's Kubernetes API requests over one warm TLS connection\n"
	"per worker (docs/kube.md). The plugin uses it when its conf sets \"apiRelay\".\n"
	"\n"
	"  --kubeconfig FILE   credentials (default: in-cluster service account)\n"
	"  --socket PATH       Unix socket to serve, mode 0600 (default " SOCKET_DEFAULT ")\n"
	"  --workers N         requests served at once, 1-64 (default 4)\n"
	"  --max-clients N     connections served or waiting for a worker, 1-1024 (default 64);\n"
	"                      beyond, a client is told at once that the relay is busy\n"
	"  --take-over         serve PATH even when another relay answers there (a rolling\n"
	"                      update's new pod); default: exit 1 in that case\n"
	"  --metrics-address HOST:PORT\n"
	"                      serve /metrics, /healthz and /readyz over HTTP there\n"
	"                      (default " METRICS_DEFAULT "; empty: not at all)\n"
	"  --metrics-socket PATH\n"
	"                      receive the meta-plugin's attachment reports there (datagrams,\n"
	"                      mode 0600; default: metrics.sock beside --socket, where the\n"
	"                      plugin sends them; empty: not at all)\n"
	"  --vxlan-peers       publish this node's \"peers\": \"kubernetes\" VXLAN VTEPs on its\n"
	"                      Node and program the other nodes' (docs/vxlan.md)\n"
	"  --vxlan-peers-interval MS\n"
	"                      how often the peers are re-read and converged, 100-600000\n"
	"                      (default 2000)\n"
	"  --hotplug           reconcile the node's running pods with their networks\n"
	"                      annotation (docs/hotplug.md); off by default\n"
	"  --node-name NAME    this node's Node, for --vxlan-peers, --hotplug and\n"
	"                      --whereabouts-reclaim\n"
	"                      (default $NODE_NAME)\n"
	"  --cni-dir DIR       the meta-plugin's intent logs (default: the conf's cniDir, else\n"
	"                      /var/lib/cni/multus)\n"
	"  --conf FILE         the node's plexus conf or conflist\n"
	"                      (default /etc/cni/net.d/00-plexus.conflist)\n"
	"  --whereabouts-reclaim\n"
	"                      release whereabouts allocations of pods that are gone\n"
	"                      (docs/ipam-reclaim.md), with --reclaim-grace SECONDS (default\n"
	"                      300), --reclaim-interval SECONDS (default 60),\n"
	"                      --reclaim-namespace NS and --node-name\n"
	"  --log-level LEVEL   error|warning|info|debug (default info)\n"
	"  -h, --help          this text\n"
	"\n"
	"On SIGTERM/SIGINT the relay stops taking requests, /readyz answers 503, and the requests\n"
	"in flight are finished before it exits.\n"
	"Exit status: 0 on SIGTERM/SIGINT, 1 on a start-up failure, 2 on a usage error.\n";

static struct kube_config *cfg;

/* docs/observability.md lists these metrics. */
static const char *const api_labels[] = { "verb", "resource", "code", NULL };
static const char *const api_dur_labels[] = { "verb", "resource", NULL };
static const char *const relay_labels[] = { "result", NULL };
static const double api_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
static const char *const relay_results[] = { "served",	"busy",	  "refused",
					     "invalid", "failed", "gone" };
static struct {
	struct metrics *reg;
	struct metrics_family *api, *api_dur, *relay, *queued, *serving;
} mx;

static void metrics_setup(void)
{
	mx.reg = metrics_new();
	mx.api = metrics_family(mx.reg, METRICS_COUNTER, "plexus_apid_api_requests_total",
				"Requests relayed to the Kubernetes API server, by HTTP status "
				"(code \"error\": no answer)",
				api_labels, NULL, 0);
	mx.api_dur = metrics_family(
		mx.reg, METRICS_HISTOGRAM, "plexus_apid_api_request_duration_seconds",
		"Time the Kubernetes API server took to answer a relayed request", api_dur_labels,
		api_buckets, ARRAY_SIZE(api_buckets));
	mx.relay = metrics_family(mx.reg, METRICS_COUNTER, "plexus_apid_relay_requests_total",
				  "Relay connections by outcome", relay_labels, NULL, 0);
	for (size_t i = 0; i < ARRAY_SIZE(relay_results); i++)
		metrics_add(mx.relay, 0, relay_results[i]);
	mx.queued = metrics_family(mx.reg, METRICS_GAUGE, "plexus_apid_relay_queue_depth",
				   "Relay connections accepted and waiting for a worker", NULL,
				   NULL, 0);
	mx.serving = metrics_family(mx.reg, METRICS_GAUGE, "plexus_apid_relay_in_flight",
				    "Relay connections being served by a worker", NULL, NULL, 0);
	metrics_set(mx.queued, 0);
	metrics_set(mx.serving, 0);
	apid_events_setup(mx.reg);
	apid_attach_setup(mx.reg);
}

/* The resource a relayed path names (kube_relay_allowed admits only these, and Events, which
 * serve_event counts itself). */
static const char *api_resource(const char *path)
{
	if (strstr(path, "/network-attachment-definitions/"))
		return "network-attachment-definitions";
	if (strstr(path, "/whereabouts.cni.cncf.io/"))
		return strstr(path, "/ippools") ? "ippools" : "overlappingrangeipreservations";
	if (strstr(path, "/resourceclaims/"))
		return "resourceclaims";
	if (strstr(path, "/resourceslices?"))
		return "resourceslices";
	size_t n = strlen(path);
	return n > 7 && !strcmp(path + n - 7, "/status") ? "pods/status" : "pods";
}

static void answer_error(int fd, const struct cni_err *e, int64_t deadline)
{
	_cleanup_json_ cJSON *j = cJSON_CreateObject();
	cJSON *o = cJSON_AddObjectToObject(j, "error");
	cJSON_AddNumberToObject(o, "code", e->code);
	cJSON_AddNumberToObject(o, "errno", e->sys);
	cJSON_AddStringToObject(o, "msg", e->msg);
	_cleanup_free_ char *text = json_print(j);
	_cleanup_free_ char *line = xasprintf("%s\n", text);
	(void)kube_relay_send(fd, line, strlen(line), deadline);
}

static void answer_status(int fd, long status, long retry_after, int64_t deadline)
{
	_cleanup_free_ char *head =
		xasprintf("{\"status\":%ld,\"retryAfter\":%ld}\n", status, retry_after);
	/* SIGPIPE is ignored: a client that went away is EPIPE here, nothing more. */
	(void)kube_relay_send(fd, head, strlen(head), deadline);
}

/* A pod Event (apid/events.c): the plugin has its ack and is usually gone; the answer is for
 * a client that stays. */
static void serve_event(int fd, const cJSON *j, const char *path, long timeout_ms, int64_t deadline)
{
	struct cni_err e = { 0 };
	long status = 0;
	const char *verb = NULL;
	int64_t t1 = clock_now_us();
	int r = apid_event(cfg, j, path, timeout_ms, &verb, &status, &e);
	if (verb) {
		char code[16];
		snprintf(code, sizeof(code), "%ld", status);
		metrics_add(mx.api, 1, verb, "events", status ? code : "error");
		metrics_observe(mx.api_dur, (double)(clock_now_us() - t1) / 1e6, verb, "events");
	}
	if (r < 0) {
		log_warning("relay: event for pod: %s", e.msg);
		answer_error(fd, &e, deadline);
		/* Over the pod's budget (EAGAIN) is the relay's refusal too. */
		metrics_add(mx.relay, 1, e.sys == EPERM || e.sys == EAGAIN ? "refused" : "failed");
		return;
	}
	log_debug("relay: event: HTTP %ld", status);
	answer_status(fd, status, -1, deadline);
	metrics_add(mx.relay, 1, "served");
}

/* One connection, accepted at t0: read the request to EOF, acknowledge it, check it, forward
 * it, answer. Everything before t0 + READ_MS + the API timeout + ANSWER_MS. */
static void serve(int fd, int64_t t0)
{
	int64_t deadline = t0 + READ_MS + cfg->timeout_ms + ANSWER_MS;
	struct cni_err e = { 0 };
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = kube_relay_recv(fd, KUBE_RELAY_REQUEST_MAX, t0 + READ_MS, t0 + READ_MS, &text,
				&len);
	if (r < 0) {
		log_warning("relay: reading a request: %s",
			    r == -ETIMEDOUT ? "not complete in time" : strerror(-r));
		if (r == -ETIMEDOUT || r == -ETIME)
			(void)cni_err_set(&e, CNI_ERR_TRY_AGAIN, ETIMEDOUT,
					  "relay: request not received within %d ms", READ_MS);
		else if (r == -EFBIG)
			(void)cni_err_set(&e, CNI_ERR_KUBE_API, EFBIG,
					  "relay: request larger than %u bytes",
					  KUBE_RELAY_REQUEST_MAX);
		else
			(void)cni_err_set(&e, CNI_ERR_TRY_AGAIN, -r,
					  "relay could not read the request: %s", strerror(-r));
		answer_error(fd, &e, deadline);
		metrics_add(mx.relay, 1, "invalid");
		return;
	}
	/* The ack, which also tells whether the client is still there: one that gave up on us
	 * (it went to the API server itself) has closed the socket, and gets nothing forwarded. */
	r = kube_relay_send(fd, KUBE_RELAY_ACK, strlen(KUBE_RELAY_ACK), deadline);
	if (r < 0) {
		log_info("relay: client gone before the request was served (%s), dropping it",
			 strerror(-r));
		metrics_add(mx.relay, 1, "gone");
		return;
	}
	_cleanup_json_ cJSON *j = NULL;
	if (json_parse(text, len, "relay request", &j, &e) < 0 || !cJSON_IsObject(j)) {
		if (!e.code)
			(void)cni_err_set(&e, CNI_ERR_DECODE, EINVAL,
					  "relay request: not a JSON object");
		answer_error(fd, &e, deadline);
		metrics_add(mx.relay, 1, "invalid");
		return;
	}
	const char *method = cJSON_GetStringValue(json_get(j, "method"));
	const char *path = cJSON_GetStringValue(json_get(j, "path"));
	const char *ctype = cJSON_GetStringValue(json_get(j, "contentType"));
	const char *body = cJSON_GetStringValue(json_get(j, "body"));
	const cJSON *tmo = json_get(j, "timeoutMs");
	if (!kube_relay_allowed(method, path, ctype)) {
		/* Bounded: whatever the client sent ends up in the log. */
		log_warning("relay: refused %.16s %.256s", method ? method : "(no method)",
			    path ? path : "(no path)");
		(void)cni_err_set(&e, CNI_ERR_KUBE_API, EPERM,
				  "the API relay forwards only GET pod, GET "
				  "network-attachment-definition, PATCH pod status, POST event, "
				  "whereabouts objects and the resource claim requests of "
				  "docs/dra.md, not %.16s %.256s",
				  method ? method : "(no method)", path ? path : "(no path)");
		answer_error(fd, &e, deadline);
		metrics_add(mx.relay, 1, "refused");
		return;
	}
	/* What is left for the API call, keeping ANSWER_MS to answer. */
	long timeout_ms = (long)(deadline - ANSWER_MS - clock_now_ms());
	if (timeout_ms > cfg->timeout_ms)
		timeout_ms = cfg->timeout_ms;
	if (cJSON_IsNumber(tmo) && tmo->valuedouble >= 1 && tmo->valuedouble < timeout_ms)
		timeout_ms = (long)tmo->valuedouble;
	if (timeout_ms < 1)
		timeout_ms = 1;
	if (kube_relay_is_event(method, path)) {
		serve_event(fd, j, path, timeout_ms, deadline);
		return;
	}
	if (kube_relay_check_body(method, path, body, &e) < 0) {
		log_warning("relay: refused the body of %s %.256s: %s", method, path, e.msg);
		answer_error(fd, &e, deadline);
		metrics_add(mx.relay, 1, "refused");
		return;
	}
	_cleanup_free_ char *what = xasprintf("%s %s", method, path);
	struct kube_request req = {
		.method = method,
		.path = path,
		.content_type = ctype,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.what = what,
	};
	struct kube_response resp = { .retry_after = -1 };
	int64_t t1 = clock_now_us();
	r = kube_exchange(cfg, &req, timeout_ms, &resp, &e);
	double secs = (double)(clock_now_us() - t1) / 1e6;
	const char *resource = api_resource(path);
	metrics_observe(mx.api_dur, secs, method, resource);
	if (r < 0) {
		log_warning("relay: %s: %s", what, e.msg);
		metrics_add(mx.api, 1, method, resource, "error");
		answer_error(fd, &e, deadline);
		metrics_add(mx.relay, 1, "failed");
		kube_response_done(&resp);
		return;
	}
	char code[16];
	snprintf(code, sizeof(code), "%ld", resp.status);
	metrics_add(mx.api, 1, method, resource, code);
	log_debug("relay: %s: HTTP %ld in %.2f ms", what, resp.status, secs * 1000.0);
	answer_status(fd, resp.status, resp.retry_after, deadline);
	if (resp.len)
		(void)kube_relay_send(fd, resp.body, resp.len, deadline);
	kube_response_done(&resp);
	metrics_add(mx.relay, 1, "served");
}

/* Accepted connections waiting for a worker, and how many are being served; at most
 * max_clients together. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t ready, idle; /* idle: serving went down */
	int *fds;
	int64_t *t0;
	size_t head, queued, serving, max;
} clients = { .lock = PTHREAD_MUTEX_INITIALIZER,
	      .ready = PTHREAD_COND_INITIALIZER,
	      .idle = PTHREAD_COND_INITIALIZER };

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		(void)pthread_mutex_lock(&clients.lock);
		while (clients.queued == 0)
			(void)pthread_cond_wait(&clients.ready, &clients.lock);
		int fd = clients.fds[clients.head];
		int64_t t0 = clients.t0[clients.head];
		clients.head = (clients.head + 1) % clients.max;
		clients.queued--;
		clients.serving++;
		metrics_set(mx.queued, (double)clients.queued);
		metrics_set(mx.serving, (double)clients.serving);
		(void)pthread_mutex_unlock(&clients.lock);
		serve(fd, t0);
		(void)close(fd);
		(void)pthread_mutex_lock(&clients.lock);
		clients.serving--;
		metrics_set(mx.serving, (double)clients.serving);
		(void)pthread_cond_broadcast(&clients.idle);
		(void)pthread_mutex_unlock(&clients.lock);
	}
	return NULL;
}

/* Accept, and queue for the workers or answer "busy" at once: the plugin then makes the
 * request itself rather than wait behind others. */
static void *acceptor(void *arg)
{
	int ls = (int)(intptr_t)arg;
	for (;;) {
		int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED) {
				/* Out of fds or memory: retrying at once would only spin. */
				log_warning("relay: accept: %s", strerror(errno));
				struct timespec pause = { .tv_nsec = 100 * 1000000 };
				(void)nanosleep(&pause, NULL);
			}
			continue;
		}
		int64_t t0 = clock_now_ms();
		(void)pthread_mutex_lock(&clients.lock);
		size_t busy = clients.queued + clients.serving;
		if (busy < clients.max) {
			size_t tail = (clients.head + clients.queued) % clients.max;
			clients.fds[tail] = fd;
			clients.t0[tail] = t0;
			clients.queued++;
			metrics_set(mx.queued, (double)clients.queued);
			(void)pthread_cond_signal(&clients.ready);
		}
		(void)pthread_mutex_unlock(&clients.lock);
		if (busy < clients.max)
			continue;
		log_info("relay: busy (%zu clients), sending a client to the API server", busy);
		struct cni_err e = { 0 };
		(void)cni_err_set(&e, CNI_ERR_TRY_AGAIN, EBUSY,
				  "API relay busy: %zu clients, make the request directly", busy);
		/* A fresh socket's buffer takes the line at once; never wait on this client. */
		answer_error(fd, &e, t0);
		(void)close(fd);
		metrics_add(mx.relay, 1, "busy");
	}
	return NULL;
}

/* The socket this process bound (device, inode): removed at exit only if still ours. */
static struct stat bound;

/* Bind a new socket beside path and rename it over the one there: clients connect to this
 * relay from then on, and the previous relay, finding another inode at path when it exits,
 * leaves it alone. What is not a socket is refused, never replaced. */
static int listen_take_over(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return -EEXIST;
	_cleanup_free_ char *tmp =
		xasprintf("%s.%ld.%lld.new", path, (long)getpid(), (long long)clock_now_us());
	int fd = sock_unix_listen(tmp, 0, false);
	if (fd < 0)
		return fd;
	if (rename(tmp, path) < 0) {
		int r = -errno;
		(void)unlink(tmp);
		(void)close(fd);
		return r;
	}
	return fd;
}

/* Serve path (0600, its directory 0700 if created); a relay already answering there wins,
 * unless take_over. */
static int listen_on(const char *path, bool take_over)
{
	_cleanup_free_ char *dir = xstrdup(path);
	int r = file_mkdir_p(dirname(dir), 0700);
	if (r < 0) {
		log_error("--socket '%s': creating its directory: %s", path, strerror(-r));
		return -1;
	}
	int fd = take_over ? listen_take_over(path) : sock_unix_listen(path, 0, true);
	if (fd == -EEXIST)
		log_error("--socket '%s': exists and is not a socket", path);
	else if (fd == -EADDRINUSE)
		log_error("--socket '%s': another relay is already serving it", path);
	else if (fd < 0)
		log_error("--socket '%s': %s", path, strerror(-fd));
	else if (lstat(path, &bound) < 0)
		log_error("--socket '%s': %s", path, strerror(errno));
	else
		return fd;
	if (fd >= 0)
		(void)close(fd);
	return -1;
}

/* optarg as a count of 1 to max; a usage error says the range. */
static int parse_count(const char *opt, int64_t max, int64_t *ret)
{
	int r = parse_i64(optarg, 1, max, ret);
	if (r < 0)
		fprintf(stderr, "plexus-apid: %s: must be 1-%d\n", opt, (int)max);
	return r;
}

int main(int argc, char **argv)
{
	log_set_program("plexus-apid");
	log_set_level(LOG_LEVEL_INFO);
	const char *kubeconfig = "", *sock = SOCKET_DEFAULT, *maddr = METRICS_DEFAULT,
		   *msock = NULL;
	int64_t workers = WORKERS_DEFAULT, max_clients = CLIENTS_DEFAULT;
	bool take_over = false, vxpeers = false, hotplug = false, reclaim = false;
	const char *node_name = secure_getenv("NODE_NAME");
	int64_t vxpeers_ms = 2000;
	struct apid_hotplug_opts hp = { 0 };
	struct apid_reclaim_opts ro = { .grace_s = RECLAIM_GRACE_S_DEFAULT,
					.interval_s = RECLAIM_INTERVAL_S_DEFAULT };
	static const struct option opts[] = {
		{ "vxlan-peers", no_argument, NULL, 'V' },
		{ "node-name", required_argument, NULL, 'N' },
		{ "vxlan-peers-interval", required_argument, NULL, 'I' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "socket", required_argument, NULL, 's' },
		{ "workers", required_argument, NULL, 'w' },
		{ "max-clients", required_argument, NULL, 'm' },
		{ "metrics-address", required_argument, NULL, 'M' },
		{ "metrics-socket", required_argument, NULL, 'S' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "take-over", no_argument, NULL, 't' },
		{ "hotplug", no_argument, NULL, 'H' },
		{ "cni-dir", required_argument, NULL, 'C' },
		{ "conf", required_argument, NULL, 'F' },
		{ "whereabouts-reclaim", no_argument, NULL, 'R' },
		{ "reclaim-grace", required_argument, NULL, 'G' },
		{ "reclaim-interval", required_argument, NULL, 'J' },
		{ "reclaim-namespace", required_argument, NULL, 'Q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			kubeconfig = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'w':
			if (parse_count("--workers", WORKERS_MAX, &workers) < 0)
				return 2;
			break;
		case 'm':
			if (parse_count("--max-clients", CLIENTS_MAX, &max_clients) < 0)
				return 2;
			break;
		case 'M': {
			struct sockaddr_storage ss;
			socklen_t sl;
			struct cni_err ae = { 0 };
			maddr = optarg;
			if (*maddr &&
			    metrics_http_address("--metrics-address", maddr, &ss, &sl, &ae) < 0) {
				fprintf(stderr, "plexus-apid: %s\n", ae.msg);
				return 2;
			}
			break;
		}
		case 'S':
			msock = optarg;
			break;
		case 'l': {
			enum log_level level;
			if (log_level_parse(optarg, &level) < 0) {
				fprintf(stderr, "plexus-apid: --log-level: unknown level '%s'\n",
					optarg);
				return 2;
			}
			log_set_level(level);
			break;
		}
		case 't':
			take_over = true;
			break;
		case 'V':
			vxpeers = true;
			break;
		case 'N':
			node_name = optarg;
			break;
		case 'I':
			if (parse_i64(optarg, 100, 600000, &vxpeers_ms) < 0) {
				fprintf(stderr, "plexus-apid: --vxlan-peers-interval: must be "
						"100-600000\n");
				return 2;
			}
			break;
		case 'H':
			hotplug = true;
			break;
		case 'C':
			hp.cni_dir = optarg;
			break;
		case 'F':
			hp.conf = optarg;
			break;
		case 'R':
			reclaim = true;
			break;
		case 'G':
		case 'J': {
			int64_t v;
			if (parse_count(c == 'G' ? "--reclaim-grace" : "--reclaim-interval", 86400,
					&v) < 0)
				return 2;
			*(c == 'G' ? &ro.grace_s : &ro.interval_s) = (long)v;
			break;
		}
		case 'Q':
			ro.ns = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "plexus-apid: unexpected argument '%s'\n%s", argv[optind], usage);
		return 2;
	}
	ro.node = node_name;
	if (reclaim && apid_reclaim_check(&ro) < 0)
		return 2;
	struct cni_err e = { 0 };
	if (kube_config_load(kubeconfig, &cfg, &e) < 0) {
		log_error("kubernetes client: %s", e.msg);
		return 1;
	}
	/* Now, not at the first pod: a node without libcurl fails here, loudly, and the first
	 * request does not pay the load. */
	if (kube_curl_load(&e) < 0) {
		log_error("%s", e.msg);
		return 1;
	}
	/* The workers must not take the signals: the main thread waits for them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	(void)pthread_sigmask(SIG_BLOCK, &set, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	int ls = listen_on(sock, take_over);
	if (ls < 0)
		return 1;
	metrics_setup();
	_cleanup_free_ char *sock_dir = xstrdup(sock);
	_cleanup_free_ char *msock_default = xasprintf("%s/metrics.sock", dirname(sock_dir));
	if (!msock)
		msock = msock_default;
	if (*msock && apid_attach_start(msock, &e) < 0) {
		log_error("--metrics-socket: %s", e.msg);
		(void)unlink(sock);
		return 1;
	}
	const char *run_dir = secure_getenv("PLEXUS_RUN_DIR");
	if (vxpeers &&
	    apid_vxpeers_start(cfg, node_name, run_dir && *run_dir ? run_dir : "/run/plexus",
			       (long)vxpeers_ms, &e) < 0) {
		log_error("%s", e.msg);
		(void)unlink(sock);
		return 1;
	}
	ro.kubeconfig = kubeconfig;
	if (reclaim && apid_reclaim_start(&ro, mx.reg, &e) < 0) {
		log_error("--whereabouts-reclaim: %s", e.msg);
		(void)unlink(sock);
		return 1;
	}
	struct metrics_http *http = NULL;
	if (*maddr && metrics_http_start("--metrics-address", maddr, mx.reg, &http, &e) < 0) {
		log_error("%s", e.msg);
		(void)unlink(sock);
		return 1;
	}
	hp.node = node_name;
	if (hotplug && apid_hotplug_start(cfg, &hp, &e) < 0) {
		log_error("--hotplug: %s", e.msg);
		(void)unlink(sock);
		metrics_http_stop(http);
		return 1;
	}
	clients.max = (size_t)max_clients;
	clients.fds = xcalloc(clients.max, sizeof(*clients.fds));
	clients.t0 = xcalloc(clients.max, sizeof(*clients.t0));
	for (int64_t i = 0; i <= workers; i++) {
		pthread_t t;
		/* The last thread is the acceptor. */
		int r = pthread_create(&t, NULL, i < workers ? worker : acceptor,
				       (void *)(intptr_t)ls);
		if (r != 0) {
			log_error("starting worker %d: %s", (int)i, strerror(r));
			(void)unlink(sock);
			metrics_http_stop(http);
			return 1;
		}
		(void)pthread_detach(t);
	}
	/* Ready: the socket listens and the credentials are loaded. */
	metrics_http_set_ready(http, true);
	log_info("relaying to %s on %s with %d worker(s), at most %d client(s)%s%s", cfg->server,
		 sock, (int)workers, (int)max_clients, *maddr ? ", metrics on " : "", maddr);
	int sig = 0;
	(void)sigwait(&set, &sig);
	metrics_http_set_ready(http, false);
	struct stat st;
	if (lstat(sock, &st) == 0 && st.st_dev == bound.st_dev && st.st_ino == bound.st_ino) {
		log_info("%s: removing %s and exiting", strsignal(sig), sock);
		(void)unlink(sock);
		if (*msock)
			(void)unlink(msock);
	} else {
		log_info("%s: exiting (%s is no longer this relay's socket)", strsignal(sig), sock);
	}
	/* With the socket gone, plugins make their requests themselves; those already here are
	 * answered, each within its own deadline. */
	struct timespec until;
	(void)clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (READ_MS + cfg->timeout_ms + ANSWER_MS) / 1000 + 1;
	(void)pthread_mutex_lock(&clients.lock);
	if (clients.queued + clients.serving)
		log_info("finishing %zu request(s) in flight", clients.queued + clients.serving);
	while (clients.queued + clients.serving &&
	       pthread_cond_timedwait(&clients.idle, &clients.lock, &until) == 0)
		;
	(void)pthread_mutex_unlock(&clients.lock);
	metrics_http_stop(http);
	/* cfg and the registry stay: a worker may still be using them while the process exits. */
	return 0;
}
