// SPDX-License-Identifier: Apache-2.0
/* plexus-apid's attachment and IPAM pool metrics, from the meta-plugin's report datagrams. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "apid/attach.h"
#include "lib/cni/err.h"
#include "lib/metrics/metrics.h"
#include "lib/metrics/report.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

static const char *const op_labels[] = { "network", "plugin", "verb", "result", NULL };
static const char *const dur_labels[] = { "network", "plugin", "verb", NULL };
static const char *const err_labels[] = { "network", "plugin", "verb", "code", NULL };
static const char *const rep_labels[] = { "result", NULL };
static const char *const pool_labels[] = { "network", "plugin", "ipam", "range", NULL };
static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				  0.25,	 0.5,	 1,	2.5,  5,     10 };

static struct {
	struct metrics_family *ops, *dur, *errs, *reports, *overflow;
	struct metrics_family *pool_addrs, *pool_alloc, *pool_overflow;
	pthread_mutex_t lock; /* pairs, pools */
	char **pairs;	      /* "network plugin", APID_ATTACH_PAIRS_MAX at most */
	size_t n_pairs;
	char **pools; /* "network plugin ipam range", APID_POOLS_MAX at most */
	size_t n_pools;
} ax = { .lock = PTHREAD_MUTEX_INITIALIZER };

void apid_attach_setup(struct metrics *reg)
{
	ax.ops = metrics_family(reg, METRICS_COUNTER, "plexus_attachment_operations_total",
				"Meta-plugin operations per attachment, by result (ok or error)",
				op_labels, NULL, 0);
	ax.dur = metrics_family(reg, METRICS_HISTOGRAM, "plexus_attachment_duration_seconds",
				"Time the attachment's delegates took for the verb", dur_labels,
				buckets, ARRAY_SIZE(buckets));
	ax.errs = metrics_family(reg, METRICS_COUNTER, "plexus_attachment_errors_total",
				 "Failed attachment operations by CNI error code", err_labels, NULL,
				 0);
	ax.reports = metrics_family(reg, METRICS_COUNTER, "plexus_attachment_reports_total",
				    "Report datagrams received, by result (accepted or invalid)",
				    rep_labels, NULL, 0);
	metrics_add(ax.reports, 0, "accepted");
	metrics_add(ax.reports, 0, "invalid");
	ax.overflow = metrics_family(
		reg, METRICS_COUNTER, "plexus_attachment_overflow_total",
		"Entries counted as network=\"other\" because the distinct network/plugin pairs "
		"reached their cap",
		NULL, NULL, 0);
	metrics_add(ax.overflow, 0);
	ax.pool_addrs = metrics_family(reg, METRICS_GAUGE, "plexus_ipam_pool_addresses",
				       "Addresses the IPAM range can hand out, as last reported",
				       pool_labels, NULL, 0);
	ax.pool_alloc = metrics_family(reg, METRICS_GAUGE, "plexus_ipam_pool_allocated",
				       "Addresses of the IPAM range leased on this node, as last "
				       "reported",
				       pool_labels, NULL, 0);
	ax.pool_overflow = metrics_family(
		reg, METRICS_COUNTER, "plexus_ipam_pool_overflow_total",
		"Pool entries not exported because the distinct pools reached their cap", NULL,
		NULL, 0);
	metrics_add(ax.pool_overflow, 0);
}

/* Whether key has its own series in the set (*keys, *n, at most max): known, or new and
 * under the cap (then added). */
static bool key_kept(char ***keys, size_t *n, size_t max, char *key)
{
	bool kept = false;
	(void)pthread_mutex_lock(&ax.lock);
	for (size_t i = 0; i < *n && !kept; i++)
		kept = strcmp((*keys)[i], key) == 0;
	if (!kept && *n < max) {
		*keys = xrealloc(*keys, (*n + 1) * sizeof(**keys));
		(*keys)[(*n)++] = xstrdup(key);
		kept = true;
	}
	(void)pthread_mutex_unlock(&ax.lock);
	return kept;
}

static bool pair_kept(const char *network, const char *plugin)
{
	_cleanup_free_ char *key = xasprintf("%s %s", network, plugin);
	return key_kept(&ax.pairs, &ax.n_pairs, APID_ATTACH_PAIRS_MAX, key);
}

/* A pool datagram: each pool's gauges set to the reported values. */
static int pool_datagram(const char *buf, size_t len)
{
	_cleanup_free_ struct report_pools *rep = xmalloc(sizeof(*rep));
	struct cni_err e = { 0 };
	int r = report_pool_parse(buf, len, rep, &e);
	if (r < 0) {
		log_debug("metrics socket: dropped a datagram: %s", e.msg);
		metrics_add(ax.reports, 1, "invalid");
		return r;
	}
	metrics_add(ax.reports, 1, "accepted");
	for (size_t i = 0; i < rep->n; i++) {
		const struct report_pool *x = &rep->p[i];
		_cleanup_free_ char *key =
			xasprintf("%s %s %s %s", x->network, x->plugin, x->ipam, x->range);
		/* A gauge cannot be folded into "other": the pool is left out, and counted. */
		if (!key_kept(&ax.pools, &ax.n_pools, APID_POOLS_MAX, key)) {
			metrics_add(ax.pool_overflow, 1);
			continue;
		}
		metrics_set(ax.pool_addrs, x->addresses, x->network, x->plugin, x->ipam, x->range);
		metrics_set(ax.pool_alloc, x->allocated, x->network, x->plugin, x->ipam, x->range);
	}
	return 0;
}

int apid_attach_datagram(const char *buf, size_t len)
{
	if (report_is_pool(buf, len))
		return pool_datagram(buf, len);
	struct report *rep = xmalloc(sizeof(*rep));
	struct cni_err e = { 0 };
	int r = report_parse(buf, len, rep, &e);
	if (r < 0) {
		log_debug("metrics socket: dropped a datagram: %s", e.msg);
		metrics_add(ax.reports, 1, "invalid");
		free(rep);
		return r;
	}
	metrics_add(ax.reports, 1, "accepted");
	for (size_t i = 0; i < rep->n; i++) {
		const struct report_entry *x = &rep->e[i];
		const char *net = x->network, *plugin = x->plugin;
		if (!pair_kept(net, plugin)) {
			net = plugin = "other";
			metrics_add(ax.overflow, 1);
		}
		metrics_add(ax.ops, 1, net, plugin, rep->verb, x->code ? "error" : "ok");
		metrics_observe(ax.dur, (double)x->duration_us / 1e6, net, plugin, rep->verb);
		if (x->code) {
			char code[16];
			snprintf(code, sizeof(code), "%d", x->code);
			metrics_add(ax.errs, 1, net, plugin, rep->verb, code);
		}
	}
	free(rep);
	return 0;
}

static void *receiver(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static char buf[REPORT_DGRAM_MAX + 1];
	for (;;) {
		/* MSG_TRUNC: the datagram's real length, so an oversized one is refused. */
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
		if (n < 0) {
			if (errno != EINTR)
				log_warning("metrics socket: recv: %s", strerror(errno));
			continue;
		}
		(void)apid_attach_datagram(buf, (size_t)n);
	}
	return NULL;
}

int apid_attach_start(const char *path, struct cni_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, ENAMETOOLONG,
				   "metrics socket '%s': path too long", path);
	strcpy(sa.sun_path, path);
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EEXIST,
					   "metrics socket '%s': exists and is not a socket", path);
		/* Left by a previous apid: this one holds the relay socket now. */
		(void)unlink(path);
	}
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cni_err_set(err, CNI_ERR_IO, errno, "metrics socket: %s", strerror(errno));
	/* Only root may send: bound 0600 from the start, not chmod'ed after. */
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	int saved = errno;
	(void)umask(old);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, saved, "metrics socket '%s': %s", path,
				   strerror(saved));
	pthread_t t;
	r = pthread_create(&t, NULL, receiver, (void *)(intptr_t)fd);
	if (r != 0) {
		(void)unlink(path);
		return cni_err_set(err, CNI_ERR_IO, r, "metrics socket: thread: %s", strerror(r));
	}
	(void)pthread_detach(t);
	(void)TAKE_FD(fd);
	return 0;
}
