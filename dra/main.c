// SPDX-License-Identifier: Apache-2.0
/* plexus-dra: a kubelet DRA driver for SR-IOV VFs (ResourceSlices, prepare/unprepare). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "device-plugin/pools.h"
#include "dra/internal.h"
#include "lib/kube/config.h"
#include "lib/kube/internal.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

/* A failed publish is retried after RETRY_MS, doubling up to RETRY_MAX_MS while it fails. */
#define RETRY_MS 2000
#define RETRY_MAX_MS 32000

struct daemon {
	struct dra d;
	struct dp_health *health;
	struct dp_vf *vfs;
	size_t n_vfs;
	int sfd, tfd;
	int retry_ms; /* the next retry's delay */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: plexus-dra [OPTIONS]\n"
		"Kubelet DRA driver for SR-IOV VFs: publishes them as ResourceSlices and prepares\n"
		"the ResourceClaims allocated to this node.\n"
		"\n"
		"  --config FILE          pools, in the device plugin's resourceList JSON\n"
		"                         (default /etc/plexus/dra.json)\n"
		"  --driver-name NAME     DRA driver name (default " DRA_DEFAULT_DRIVER ")\n"
		"  --node-name NAME       this node (default $NODE_NAME)\n"
		"  --kubeconfig FILE      API access (default: in-cluster)\n"
		"  --registry-dir DIR     kubelet's plugin registry (default " DRA_REGISTRY_DIR
		")\n"
		"  --plugin-dir DIR       sockets and checkpoint (default " DRA_PLUGINS_DIR
		"/<driver-name>)\n"
		"  --cdi-dir DIR          CDI specs (default " DRA_CDI_DIR ")\n"
		"  --device-info-dir DIR  device-info files go to DIR/dp/\n"
		"                         (default " DRA_DEVINFO_DIR ")\n"
		"  --log-level LEVEL      error|warning|info|debug (default info)\n"
		"  --help                 this text\n"
		"\n"
		"SIGHUP rediscovers the VFs; SIGTERM/SIGINT stop (prepared claims stay).\n"
		"PLEXUS_SYSFS_ROOT prefixes /sys and /dev (tests).\n");
}

static void arm_retry(struct daemon *dm)
{
	int ms = dm->retry_ms ? dm->retry_ms : RETRY_MS;
	struct itimerspec its = { .it_value = { .tv_sec = ms / 1000,
						.tv_nsec = (ms % 1000) * 1000000L } };
	(void)timerfd_settime(dm->tfd, 0, &its, NULL);
	dm->retry_ms = ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : ms * 2;
}

static void publish(struct daemon *dm)
{
	struct cni_err err = { 0 };
	if (dra_slices_publish(&dm->d, &err) < 0) {
		log_warning("%s, retrying", err.msg);
		arm_retry(dm);
	} else {
		dm->retry_ms = 0;
	}
}

/* Health from carrier, each VF into the first pool that matches it; changed pools are dirty. */
static void distribute(struct daemon *dm)
{
	struct dra *d = &dm->d;
	struct dp_share *sh = dp_assign(&d->cfg, dm->health, dm->vfs, dm->n_vfs);
	for (size_t p = 0; p < d->n_pools; p++) {
		struct dra_pool *dp = &d->pools[p];
		size_t n = sh[p].n;
		(void)pthread_mutex_lock(&d->lock);
		bool same = n == dp->n_devs &&
			    (!n || (!memcmp(sh[p].devs, dp->devs, n * sizeof(*dp->devs)) &&
				    !memcmp(sh[p].selector, dp->selector, n * sizeof(int))));
		if (!same) {
			free(dp->devs);
			free(dp->selector);
			dp->devs = TAKE_PTR(sh[p].devs);
			dp->selector = TAKE_PTR(sh[p].selector);
			dp->n_devs = n;
			dp->dirty = true;
		}
		(void)pthread_mutex_unlock(&d->lock);
	}
	dp_shares_free(sh, d->cfg.n_pools);
}

static int discover(struct daemon *dm, struct cni_err *err)
{
	struct dp_vf *vfs = NULL;
	size_t n = 0;
	int r = dp_discover_node(&vfs, &n, err);
	if (r < 0)
		return r;
	free(dm->vfs);
	dm->vfs = vfs;
	dm->n_vfs = n;
	log_info("discovered %zu vf(s)", n);
	distribute(dm);
	return 0;
}

static int setup(struct daemon *dm, struct cni_err *err)
{
	struct dra *d = &dm->d;
	if (!d->node || !kube_dns1123_subdomain(d->node))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "node name '%s' (--node-name or $NODE_NAME) is not a DNS "
				   "subdomain",
				   d->node ? d->node : "");
	/* The driver name is the CDI vendor and a DNS subdomain in the API. */
	if (!kube_dns1123_subdomain(d->driver) || !dra_cdi_vendor_ok(d->driver))
		return cni_err_set(err, CNI_ERR_INVALID_CONFIG, EINVAL,
				   "driver name '%s' is not a DNS subdomain", d->driver);
	int r = dp_config_load(d->config_path, DRA_DEFAULT_PREFIX, &d->cfg, err);
	if (r < 0)
		return r;
	r = dra_pools_init(d, err);
	if (r < 0)
		return cni_err_wrap(err, "config '%s'", d->config_path);
	r = kube_config_load(d->kubeconfig, &d->kube, err);
	if (r < 0)
		return r;
	r = dra_ckpt_load(d, err);
	if (r < 0)
		return r;
	dm->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (dm->tfd < 0)
		return cni_err_set(err, CNI_ERR_INTERNAL, errno, "timerfd: %s", strerror(errno));
	r = dp_health_open(&dm->health, err);
	if (r >= 0)
		r = discover(dm, err);
	if (r < 0)
		return r;
	publish(dm);
	return dra_plugin_start(d, err);
}

static int loop(struct daemon *dm, struct cni_err *err)
{
	for (;;) {
		struct pollfd pfd[] = {
			{ .fd = dm->sfd, .events = POLLIN },
			{ .fd = dp_health_fd(dm->health), .events = POLLIN },
			{ .fd = dm->tfd, .events = POLLIN },
		};
		if (poll(pfd, ARRAY_SIZE(pfd), -1) < 0) {
			if (errno == EINTR)
				continue;
			return cni_err_set(err, CNI_ERR_INTERNAL, errno, "poll: %s",
					   strerror(errno));
		}
		if (pfd[1].revents) {
			bool changed = false;
			int r = dp_health_process(dm->health, &changed, err);
			if (r < 0)
				return r;
			if (changed) {
				distribute(dm);
				publish(dm);
			}
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;
			if (read(dm->sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo != SIGHUP) {
				log_info("signal %u: shutting down", si.ssi_signo);
				return 0;
			}
			struct cni_err e = { 0 };
			log_info("SIGHUP: rediscovering vfs");
			if (discover(dm, &e) < 0)
				log_error("%s, keeping the old list", e.msg);
			publish(dm);
		}
		if (pfd[2].revents) {
			uint64_t ticks;
			(void)!read(dm->tfd, &ticks, sizeof(ticks));
			publish(dm);
		}
	}
}

static void teardown(struct daemon *dm)
{
	struct dra *d = &dm->d;
	dra_plugin_stop(d);
	dra_ckpt_free(d);
	dra_pools_free(d);
	dp_config_done(&d->cfg);
	kube_config_free(d->kube);
	dp_health_free(dm->health);
	free(dm->vfs);
	free(d->reg_sock);
	free(d->dra_sock);
	free(d->ckpt_path);
	if (dm->tfd >= 0)
		(void)close(dm->tfd);
	if (dm->sfd >= 0)
		(void)close(dm->sfd);
	(void)pthread_mutex_destroy(&d->lock);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "driver-name", required_argument, NULL, 'D' },
		{ "node-name", required_argument, NULL, 'n' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "registry-dir", required_argument, NULL, 'r' },
		{ "plugin-dir", required_argument, NULL, 'p' },
		{ "cdi-dir", required_argument, NULL, 'C' },
		{ "device-info-dir", required_argument, NULL, 'i' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct daemon dm = { .d = { .config_path = "/etc/plexus/dra.json",
				    .driver = DRA_DEFAULT_DRIVER,
				    .node = secure_getenv("NODE_NAME"),
				    .kubeconfig = "",
				    .registry_dir = DRA_REGISTRY_DIR,
				    .cdi_dir = DRA_CDI_DIR,
				    .devinfo_dir = DRA_DEVINFO_DIR },
			     .sfd = -1,
			     .tfd = -1 };
	struct dra *d = &dm.d;
	struct cni_err err = { 0 };
	enum log_level level = LOG_LEVEL_INFO;
	_cleanup_free_ char *plugin_dir = NULL;
	int c;

	log_set_program("plexus-dra");
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d->config_path = optarg;
			break;
		case 'D':
			d->driver = optarg;
			break;
		case 'n':
			d->node = optarg;
			break;
		case 'k':
			d->kubeconfig = optarg;
			break;
		case 'r':
			d->registry_dir = optarg;
			break;
		case 'p':
			d->plugin_dir = optarg;
			break;
		case 'C':
			d->cdi_dir = optarg;
			break;
		case 'i':
			d->devinfo_dir = optarg;
			break;
		case 'l':
			if (log_level_parse(optarg, &level) < 0) {
				fprintf(stderr, "plexus-dra: bad --log-level '%s'\n", optarg);
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
	if (!d->plugin_dir)
		d->plugin_dir = plugin_dir = xasprintf(DRA_PLUGINS_DIR "/%s", d->driver);
	d->reg_sock = xasprintf("%s/%s-reg.sock", d->registry_dir, d->driver);
	d->dra_sock = xasprintf("%s/dra.sock", d->plugin_dir);
	d->ckpt_path = xasprintf("%s/checkpoint.json", d->plugin_dir);
	(void)pthread_mutex_init(&d->lock, NULL);

	/* Blocked before any thread exists, so only the signalfd sees them. */
	sigset_t mask;
	(void)sigemptyset(&mask);
	(void)sigaddset(&mask, SIGTERM);
	(void)sigaddset(&mask, SIGINT);
	(void)sigaddset(&mask, SIGHUP);
	(void)pthread_sigmask(SIG_BLOCK, &mask, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	dm.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	int r = dm.sfd < 0 ? cni_err_set(&err, CNI_ERR_INTERNAL, errno, "signalfd: %s",
					 strerror(errno))
			   : setup(&dm, &err);
	if (r >= 0)
		r = loop(&dm, &err);
	teardown(&dm);
	if (r < 0) {
		log_error("%s", err.msg);
		return 1;
	}
	return 0;
}
