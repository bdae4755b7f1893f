// SPDX-License-Identifier: Apache-2.0
/* plexus-device-plugin: advertises SR-IOV VFs to kubelet, one gRPC endpoint per pool. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "device-plugin/internal.h"
#include "lib/metrics/http.h"
#include "lib/metrics/metrics.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "lib/util/sysfs.h"

#define RETRY_MS 1000
#define METRICS_DEFAULT "127.0.0.1:9454"
/* After SIGTERM, /readyz answers 503 this long while the endpoints still serve. */
#define DRAIN_MS 1000

struct daemon {
	const char *config_path, *kubelet_dir, *devinfo_dir, *prefix;
	struct dp_config cfg;
	struct dp_pool_srv *pools;
	size_t n_pools;
	struct dp_vf *vfs; /* last discovery */
	size_t n_vfs;
	struct dp_health *health;
	int sfd, ifd, tfd;
	int kubelet_wd, cfg_wd; /* inotify watches: kubelet dir, the config's directory */
	char *cfg_text;		/* the running config as read, to tell a real change */
	const char *metrics_address;
	struct metrics_http *http;
	bool stopping; /* SIGTERM/SIGINT came: never ready again */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: plexus-device-plugin [OPTIONS]\n"
		"Advertise SR-IOV VFs to kubelet as extended resources (device plugin API "
		"v1beta1).\n"
		"\n"
		"  --config FILE            resourceList JSON (default "
		"/etc/plexus/device-plugin.json)\n"
		"  --kubelet-dir DIR        kubelet's device plugin directory: kubelet.sock is "
		"there and\n"
		"                           the plugin sockets are created there\n"
		"                           (default " DP_KUBELET_DIR ")\n"
		"  --resource-prefix PFX    prefix for pools without resourcePrefix "
		"(default " DP_DEFAULT_PREFIX ")\n"
		"  --device-info-dir DIR    device-info files for the meta-plugin go to DIR/dp/\n"
		"                           (default " DP_DEVINFO_DIR ")\n"
		"  --metrics-address HOST:PORT\n"
		"                           serve /metrics, /healthz and /readyz over HTTP there\n"
		"                           (default " METRICS_DEFAULT "; empty: not at all)\n"
		"  --log-level LEVEL        error|warning|info|debug (default info)\n"
		"  --help                   this text\n"
		"\n"
		"Signals: SIGHUP re-reads the config and rediscovers the VFs (so does a change\n"
		"of the config file), SIGTERM/SIGINT stop cleanly (after 1 s of /readyz\n"
		"answering 503 when the metrics address is set).\n"
		"PLEXUS_SYSFS_ROOT prefixes /sys and /dev (tests).\n");
}

/* Health from carrier, and each VF into the first pool whose selectors match it. */
static void publish_all(struct daemon *d)
{
	struct dp_share *sh = dp_assign(&d->cfg, d->health, d->vfs, d->n_vfs);
	for (size_t p = 0; p < d->n_pools; p++) {
		dp_pool_publish(&d->pools[p], sh[p].devs, sh[p].selector, sh[p].n);
		dp_metrics_pool(&d->pools[p]);
	}
	dp_shares_free(sh, d->cfg.n_pools);
}

static int discover(struct daemon *d, struct cni_err *err)
{
	struct dp_vf *vfs = NULL;
	size_t n = 0;
	int r = dp_discover_node(&vfs, &n, err);
	if (r < 0)
		return r;
	free(d->vfs);
	d->vfs = vfs;
	d->n_vfs = n;
	log_info("discovered %zu vf(s)", n);
	return 0;
}

static void arm_retry(struct daemon *d)
{
	struct itimerspec its = { .it_value = { .tv_sec = RETRY_MS / 1000,
						.tv_nsec = (RETRY_MS % 1000) * 1000000L } };
	(void)timerfd_settime(d->tfd, 0, &its, NULL);
}

/* Ready: every pool's endpoint serves and is registered with kubelet. */
static void update_ready(struct daemon *d)
{
	bool ready = !d->stopping;
	for (size_t p = 0; p < d->n_pools; p++)
		ready = ready && d->pools[p].running && d->pools[p].registered;
	metrics_http_set_ready(d->http, ready);
}

/* Register every serving pool with kubelet; a retry only those not registered yet (kubelet
 * would re-dial a registered one and restart its ListAndWatch for nothing). */
static void register_all(struct daemon *d, bool retry)
{
	bool failed = false;
	for (size_t p = 0; p < d->n_pools; p++) {
		struct dp_pool_srv *ps = &d->pools[p];
		struct cni_err err = { 0 };
		if (!ps->running || (retry && ps->registered))
			continue;
		ps->registered = dp_register(d->kubelet_dir, ps, &err) == 0;
		metrics_add(dp_mx.registrations, 1, ps->pool->resource,
			    ps->registered ? "ok" : "error");
		if (!ps->registered) {
			log_warning("%s, retrying", err.msg);
			failed = true;
		}
	}
	if (failed)
		arm_retry(d);
	update_ready(d);
}

/* Recreate a pool's server whose socket file is gone (kubelet removes them on restart). */
static bool restart_missing(struct daemon *d)
{
	bool any = false;
	for (size_t p = 0; p < d->n_pools; p++) {
		struct dp_pool_srv *ps = &d->pools[p];
		if (ps->running && sysfs_exists(ps->sock_path))
			continue;
		struct cni_err err = { 0 };
		log_info("'%s': socket '%s' gone, restarting the endpoint", ps->pool->resource,
			 ps->sock_path);
		dp_pool_stop(ps);
		if (dp_pool_start(ps, &err) < 0)
			log_error("%s", err.msg);
		else
			any = true;
	}
	update_ready(d);
	return any;
}

static void reload(struct daemon *d);
static void reload_pools(struct daemon *d);

static void on_inotify(struct daemon *d)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool kubelet_up = false, ours_gone = false, config_changed = false;
	const char *base = strrchr(d->config_path, '/');
	base = base ? base + 1 : d->config_path;
	ssize_t k;
	while ((k = read(d->ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + k;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (!ev->len)
				continue;
			/* The config file itself, or a ConfigMap's "..data" symlink swap. */
			if (ev->wd == d->cfg_wd &&
			    (!strcmp(ev->name, base) || !strcmp(ev->name, "..data")))
				config_changed = true;
			if (ev->wd != d->kubelet_wd)
				continue;
			if (!strcmp(ev->name, DP_KUBELET_SOCK) &&
			    (ev->mask & (IN_CREATE | IN_MOVED_TO)))
				kubelet_up = true;
			else if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
				ours_gone = true;
		}
	}
	if (config_changed) {
		log_info("config '%s' changed: reloading", d->config_path);
		reload(d);
		return;
	}
	bool restarted = ours_gone && restart_missing(d);
	if (kubelet_up)
		log_info("kubelet.sock created: registering again");
	if (kubelet_up || restarted)
		register_all(d, false);
}

/* One endpoint per pool of d->cfg: publish the devices, serve, register. */
static int start_pools(struct daemon *d, struct cni_err *err)
{
	d->n_pools = d->cfg.n_pools;
	d->pools = xcalloc(d->n_pools + 1, sizeof(*d->pools));
	for (size_t p = 0; p < d->n_pools; p++) {
		struct dp_pool_srv *ps = &d->pools[p];
		ps->pool = &d->cfg.pools[p];
		ps->devinfo_dir = d->devinfo_dir;
		ps->endpoint = xasprintf("plexus-%s.sock", ps->pool->resource);
		for (char *c = ps->endpoint; *c; c++)
			if (*c == '/')
				*c = '_';
		ps->sock_path = xasprintf("%s/%s", d->kubelet_dir, ps->endpoint);
		(void)pthread_mutex_init(&ps->lock, NULL);
	}
	publish_all(d);
	for (size_t p = 0; p < d->n_pools; p++) {
		int r = dp_pool_start(&d->pools[p], err);
		if (r < 0) {
			update_ready(d);
			return r;
		}
		log_info("'%s': serving %zu vf(s) on '%s'", d->pools[p].pool->resource,
			 d->pools[p].n_devs, d->pools[p].sock_path);
	}
	register_all(d, false);
	return 0;
}

/* Stop every endpoint (streams end, sockets go) and forget the pools. */
static void stop_pools(struct daemon *d)
{
	for (size_t p = 0; p < d->n_pools; p++) {
		dp_pool_stop(&d->pools[p]);
		free(d->pools[p].devs);
		free(d->pools[p].selector);
		free(d->pools[p].sock_path);
		free(d->pools[p].endpoint);
		(void)pthread_mutex_destroy(&d->pools[p].lock);
	}
	free(d->pools);
	d->pools = NULL;
	d->n_pools = 0;
	dp_metrics_forget_pools();
	/* Not update_ready: no pools would read as ready until the new ones register. */
	metrics_http_set_ready(d->http, false);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The device-info files the current pools may have written (sorted, NULL-terminated). */
static char **devinfo_paths(const struct daemon *d, size_t *ret_n)
{
	size_t n = 0;
	for (size_t p = 0; p < d->n_pools; p++)
		n += d->pools[p].n_devs;
	char **paths = xcalloc(n + 1, sizeof(*paths));
	n = 0;
	for (size_t p = 0; p < d->n_pools; p++)
		for (size_t i = 0; i < d->pools[p].n_devs; i++)
			paths[n++] = dp_devinfo_path(d->devinfo_dir, d->pools[p].pool->resource,
						     d->pools[p].devs[i].bdf);
	qsort(paths, n, sizeof(*paths), cmp_str);
	*ret_n = n;
	return paths;
}

static void free_paths(char **paths)
{
	for (char **p = paths; p && *p; p++)
		free(*p);
	free(paths);
}

/* A VF that left its pool (gone from sysfs, or its pool from the config) must not leave a
 * device-info file behind for the meta-plugin to hand to the next pod that gets that BDF. */
static void remove_stale_devinfo(const struct daemon *d, char **before, size_t n_before)
{
	size_t n_after = 0;
	char **after = devinfo_paths(d, &n_after);
	for (size_t i = 0; i < n_before; i++) {
		if (bsearch(&before[i], after, n_after, sizeof(*after), cmp_str))
			continue;
		if (unlink(before[i]) == 0)
			log_info("removed the device-info file '%s': its VF left the pool",
				 before[i]);
		else if (errno != ENOENT)
			log_warning("device-info file '%s': %s", before[i], strerror(errno));
	}
	free_paths(after);
}

/* SIGHUP or a changed config file. Same config: rediscover and publish the changes on the
 * running endpoints. A new config that loads replaces every endpoint; one that does not keeps
 * the running config (and says so). */
static void reload(struct daemon *d)
{
	size_t n_before = 0;
	char **before = devinfo_paths(d, &n_before);
	reload_pools(d);
	remove_stale_devinfo(d, before, n_before);
	free_paths(before);
}

static void reload_pools(struct daemon *d)
{
	struct cni_err err = { 0 };
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = file_read_all(d->config_path, 1 << 20, &text, &len);
	struct dp_config cfg = { 0 };
	bool changed = r == 0 && (!d->cfg_text || strcmp(text, d->cfg_text) != 0);
	if (r < 0)
		log_error("config '%s': %s; keeping the running config", d->config_path,
			  strerror(-r));
	else if (changed && dp_config_parse(text, len, d->prefix, &cfg, &err) < 0) {
		log_error("config '%s': %s; keeping the running config", d->config_path, err.msg);
		changed = false;
	}
	if (discover(d, &err) < 0)
		log_error("%s, keeping the old list", err.msg);
	if (!changed) {
		publish_all(d);
		return;
	}
	stop_pools(d);
	dp_config_done(&d->cfg);
	d->cfg = cfg;
	free(d->cfg_text);
	d->cfg_text = TAKE_PTR(text);
	if (start_pools(d, &err) < 0)
		log_error("%s", err.msg);
	log_info("config '%s' loaded: %zu pool(s)", d->config_path, d->n_pools);
}

static int setup(struct daemon *d, struct cni_err *err)
{
	int r = dp_config_load(d->config_path, d->prefix, &d->cfg, err);
	if (r < 0)
		return r;
	(void)file_read_all(d->config_path, 1 << 20, &d->cfg_text, NULL);
	d->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (d->ifd < 0 || (d->kubelet_wd = inotify_add_watch(d->ifd, d->kubelet_dir,
							     IN_CREATE | IN_MOVED_TO | IN_DELETE |
								     IN_MOVED_FROM)) < 0)
		return cni_err_set(err, CNI_ERR_IO, errno, "kubelet dir '%s': %s", d->kubelet_dir,
				   strerror(errno));
	/* The config's directory, not the file: ConfigMaps are updated by swapping a symlink. */
	_cleanup_free_ char *cfg_dir = xstrdup(d->config_path);
	char *slash = strrchr(cfg_dir, '/');
	if (slash)
		*(slash == cfg_dir ? slash + 1 : slash) = '\0';
	d->cfg_wd = inotify_add_watch(d->ifd, slash ? cfg_dir : ".",
				      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MASK_ADD);
	if (d->cfg_wd < 0)
		log_warning("cannot watch the config's directory: %s, ignoring", strerror(errno));
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->tfd < 0)
		return cni_err_set(err, CNI_ERR_INTERNAL, errno, "timerfd: %s", strerror(errno));
	dp_metrics_setup();
	if (*d->metrics_address) {
		r = metrics_http_start("--metrics-address", d->metrics_address, dp_mx.reg, &d->http,
				       err);
		if (r < 0)
			return r;
	}
	r = dp_health_open(&d->health, err);
	if (r < 0)
		return r;
	r = discover(d, err);
	if (r < 0)
		return r;
	return start_pools(d, err);
}

/* Shutting down: not ready at once, so a probe sees it while the endpoints still serve. */
static void drain(struct daemon *d)
{
	d->stopping = true;
	if (!d->http)
		return;
	metrics_http_set_ready(d->http, false);
	struct timespec ts = { .tv_sec = DRAIN_MS / 1000, .tv_nsec = (DRAIN_MS % 1000) * 1000000L };
	(void)nanosleep(&ts, NULL);
}

static void teardown(struct daemon *d)
{
	stop_pools(d);
	free(d->cfg_text);
	free(d->vfs);
	dp_health_free(d->health);
	dp_config_done(&d->cfg);
	if (d->ifd >= 0)
		(void)close(d->ifd);
	if (d->tfd >= 0)
		(void)close(d->tfd);
	metrics_http_stop(d->http);
	metrics_free(dp_mx.reg);
	dp_mx = (struct dp_metrics){ 0 };
}

static int loop(struct daemon *d, struct cni_err *err)
{
	for (;;) {
		struct pollfd pfd[] = {
			{ .fd = d->sfd, .events = POLLIN },
			{ .fd = d->ifd, .events = POLLIN },
			{ .fd = dp_health_fd(d->health), .events = POLLIN },
			{ .fd = d->tfd, .events = POLLIN },
		};
		if (poll(pfd, ARRAY_SIZE(pfd), -1) < 0) {
			if (errno == EINTR)
				continue;
			return cni_err_set(err, CNI_ERR_INTERNAL, errno, "poll: %s",
					   strerror(errno));
		}
		if (pfd[2].revents) {
			bool changed = false;
			int r = dp_health_process(d->health, &changed, err);
			if (r < 0)
				return r;
			if (changed)
				publish_all(d);
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;
			if (read(d->sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					log_info("SIGHUP: reloading the config and rediscovering "
						 "vfs");
					reload(d);
				} else {
					log_info("signal %u: shutting down", si.ssi_signo);
					return 0;
				}
			}
		}
		if (pfd[1].revents)
			on_inotify(d);
		if (pfd[3].revents) {
			uint64_t ticks;
			(void)!read(d->tfd, &ticks, sizeof(ticks));
			register_all(d, true);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "kubelet-dir", required_argument, NULL, 'k' },
		{ "resource-prefix", required_argument, NULL, 'p' },
		{ "device-info-dir", required_argument, NULL, 'd' },
		{ "metrics-address", required_argument, NULL, 'M' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct daemon d = { .config_path = "/etc/plexus/device-plugin.json",
			    .kubelet_dir = DP_KUBELET_DIR,
			    .devinfo_dir = DP_DEVINFO_DIR,
			    .prefix = DP_DEFAULT_PREFIX,
			    .metrics_address = METRICS_DEFAULT,
			    .sfd = -1,
			    .ifd = -1,
			    .tfd = -1 };
	struct cni_err err = { 0 };
	enum log_level level = LOG_LEVEL_INFO;
	int c;

	log_set_program("plexus-device-plugin");
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d.config_path = optarg;
			break;
		case 'k':
			d.kubelet_dir = optarg;
			break;
		case 'p':
			d.prefix = optarg;
			break;
		case 'd':
			d.devinfo_dir = optarg;
			break;
		case 'M': {
			struct sockaddr_storage ss;
			socklen_t sl;
			d.metrics_address = optarg;
			if (*optarg &&
			    metrics_http_address("--metrics-address", optarg, &ss, &sl, &err) < 0) {
				fprintf(stderr, "plexus-device-plugin: %s\n", err.msg);
				return 2;
			}
			break;
		}
		case 'l':
			if (log_level_parse(optarg, &level) < 0) {
				fprintf(stderr, "plexus-device-plugin: bad --log-level '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	log_set_level(level);

	/* Blocked before any thread exists, so every thread inherits the mask and the signals
	 * arrive only through the signalfd. SIGPIPE: a kubelet going away mid-write. */
	sigset_t mask;
	(void)sigemptyset(&mask);
	(void)sigaddset(&mask, SIGTERM);
	(void)sigaddset(&mask, SIGINT);
	(void)sigaddset(&mask, SIGHUP);
	(void)pthread_sigmask(SIG_BLOCK, &mask, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	d.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	int r = d.sfd < 0 ? cni_err_set(&err, CNI_ERR_INTERNAL, errno, "signalfd: %s",
					strerror(errno))
			  : setup(&d, &err);
	if (r >= 0)
		r = loop(&d, &err);
	if (r >= 0)
		drain(&d);
	teardown(&d);
	if (d.sfd >= 0)
		(void)close(d.sfd);
	if (r < 0) {
		log_error("%s", err.msg);
		return 1;
	}
	return 0;
}
