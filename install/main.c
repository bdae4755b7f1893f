// SPDX-License-Identifier: Apache-2.0
/* plexus-install: installs plexus on a node from its DaemonSet pod and keeps it current. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "install/install.h"
#include "lib/cni/err.h"
#include "lib/util/clock.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"
#include "lib/util/log.h"
#include "lib/util/parse.h"

static const char usage[] =
	"Usage: plexus-install [OPTION]...\n"
	"Install the plexus CNI plugins on this node and keep their kubeconfig current.\n"
	"\n"
	"  --cni-bin-dir DIR        host CNI bin dir (default /host/opt/cni/bin)\n"
	"  --cni-conf-dir DIR       host CNI conf dir (default /host/etc/cni/net.d)\n"
	"  --plexus-conf-dir DIR    kubeconfig, token and CA copies (default "
	"<cni-conf-dir>/plexus.d)\n"
	"  --src-bin-dir DIR        plexus binaries to install (default /usr/lib/plexus, else the\n"
	"                           directory of this program)\n"
	"  --sa-dir DIR             service account (default "
	"/var/run/secrets/kubernetes.io/serviceaccount)\n"
	"  --host-root DIR          where the host's / is mounted; stripped from the paths "
	"written\n"
	"                           into configs (default /host; '' for none)\n"
	"  --cluster-network FILE   the cluster network's conf (default: the first *.conf,\n"
	"                           *.conflist or *.json of the conf dir that is not plexus's)\n"
	"  --readiness-timeout SEC  wait at most SEC for the cluster network (default 300; 0 = "
	"forever)\n"
	"  --cni-dir DIR            plugin 'cniDir' (default /var/lib/cni/multus)\n"
	"  --nad-conf-dir DIR       plugin 'confDir' (default /etc/cni/multus/net.d)\n"
	"  --log-level LEVEL        plugin 'logLevel': error|warning|info|debug (default warning)\n"
	"  --log-file FILE          plugin 'logFile' (default none: stderr)\n"
	"  --api-relay SOCKET       plugin 'apiRelay': plexus-apid's socket, as the host sees it\n"
	"                           (default none: the plugin talks to the API server itself)\n"
	"  --once                   install and exit (default: keep running, follow token\n"
	"                           rotation and cluster network changes)\n"
	"  --keep-on-exit           on SIGTERM/SIGINT keep 00-plexus.conflist (default: remove it\n"
	"                           and the plexus conf dir, unless a newer installer took over)\n"
	"  --uninstall              remove 00-plexus.conflist and the plexus conf dir, then exit\n"
	"  -h, --help               this text\n"
	"\n"
	"Exit status: 0 ok, 1 install failed, 2 usage error, 3 no cluster network in time.\n";

enum {
	OPT_CNI_BIN_DIR = 256,
	OPT_CNI_CONF_DIR,
	OPT_PLEXUS_CONF_DIR,
	OPT_SRC_BIN_DIR,
	OPT_SA_DIR,
	OPT_HOST_ROOT,
	OPT_CLUSTER_NETWORK,
	OPT_READINESS_TIMEOUT,
	OPT_CNI_DIR,
	OPT_NAD_CONF_DIR,
	OPT_LOG_LEVEL,
	OPT_LOG_FILE,
	OPT_API_RELAY,
	OPT_ONCE,
	OPT_KEEP_ON_EXIT,
	OPT_UNINSTALL,
};

static const struct option long_opts[] = {
	{ "cni-bin-dir", required_argument, NULL, OPT_CNI_BIN_DIR },
	{ "cni-conf-dir", required_argument, NULL, OPT_CNI_CONF_DIR },
	{ "plexus-conf-dir", required_argument, NULL, OPT_PLEXUS_CONF_DIR },
	{ "src-bin-dir", required_argument, NULL, OPT_SRC_BIN_DIR },
	{ "sa-dir", required_argument, NULL, OPT_SA_DIR },
	{ "host-root", required_argument, NULL, OPT_HOST_ROOT },
	{ "cluster-network", required_argument, NULL, OPT_CLUSTER_NETWORK },
	{ "readiness-timeout", required_argument, NULL, OPT_READINESS_TIMEOUT },
	{ "cni-dir", required_argument, NULL, OPT_CNI_DIR },
	{ "nad-conf-dir", required_argument, NULL, OPT_NAD_CONF_DIR },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "api-relay", required_argument, NULL, OPT_API_RELAY },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "keep-on-exit", no_argument, NULL, OPT_KEEP_ON_EXIT },
	{ "uninstall", no_argument, NULL, OPT_UNINSTALL },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

/* 1 = exit 0 (help), 0 = parsed, < 0 = usage error (message printed). */
static int parse_args(int argc, char **argv, struct inst_opts *o)
{
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_CNI_BIN_DIR:
			o->cni_bin_dir = optarg;
			break;
		case OPT_CNI_CONF_DIR:
			o->cni_conf_dir = optarg;
			break;
		case OPT_PLEXUS_CONF_DIR:
			o->plexus_conf_dir = optarg;
			break;
		case OPT_SRC_BIN_DIR:
			o->src_bin_dir = optarg;
			break;
		case OPT_SA_DIR:
			o->sa_dir = optarg;
			break;
		case OPT_HOST_ROOT:
			o->host_root = optarg;
			break;
		case OPT_CLUSTER_NETWORK:
			o->cluster_network = optarg;
			break;
		case OPT_READINESS_TIMEOUT: {
			uint64_t v;
			if (parse_u64(optarg, 365L * 24 * 3600, &v) < 0) {
				log_error("--readiness-timeout '%s': not a number of seconds",
					  optarg);
				return -EINVAL;
			}
			o->readiness_timeout_s = (long)v;
			break;
		}
		case OPT_CNI_DIR:
			o->cni_dir = optarg;
			break;
		case OPT_NAD_CONF_DIR:
			o->nad_conf_dir = optarg;
			break;
		case OPT_LOG_LEVEL: {
			enum log_level l;
			if (log_level_parse(optarg, &l) < 0) {
				log_error("--log-level '%s': not one of error|warning|info|debug",
					  optarg);
				return -EINVAL;
			}
			o->log_level = optarg;
			break;
		}
		case OPT_LOG_FILE:
			o->log_file = optarg;
			break;
		case OPT_API_RELAY:
			if (optarg[0] != '/') {
				log_error("--api-relay '%s': must be an absolute path", optarg);
				return -EINVAL;
			}
			o->api_relay = optarg;
			break;
		case OPT_ONCE:
			o->once = true;
			break;
		case OPT_KEEP_ON_EXIT:
			o->keep_on_exit = true;
			break;
		case OPT_UNINSTALL:
			o->uninstall = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			if (optopt)
				log_error(
					"option '%s' needs an argument or is unknown (see --help)",
					argv[optind - 1]);
			else
				log_error("unknown option '%s' (see --help)", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (see --help)", argv[optind]);
		return -EINVAL;
	}
	const char *dirs[] = { o->cni_bin_dir, o->cni_conf_dir, o->sa_dir, o->cni_dir,
			       o->nad_conf_dir };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (!*dirs[i]) {
			log_error("directory options must not be empty (see --help)");
			return -EINVAL;
		}
	}
	return 0;
}

/* /usr/lib/plexus in the image, else the directory plexus-install itself runs from. */
static char *default_src_dir(void)
{
	struct stat st;
	if (stat("/usr/lib/plexus", &st) == 0 && S_ISDIR(st.st_mode))
		return xstrdup("/usr/lib/plexus");
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return xstrdup(".");
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*(slash == self ? slash + 1 : slash) = '\0';
	return xstrdup(self);
}

static int do_uninstall(const struct inst_opts *o, const char *plexus_dir)
{
	/* Only what plexus-install wrote: never the cluster network's conf, never binaries
	 * (pods still running need them for DEL). */
	_cleanup_free_ char *conf = xasprintf("%s/" INST_CONF_NAME, o->cni_conf_dir);
	const char *own[] = { INST_KUBECONFIG_NAME, INST_TOKEN_NAME, INST_CA_NAME,
			      INST_OWNER_NAME };
	if (unlink(conf) < 0 && errno != ENOENT) {
		log_error("remove '%s': %s", conf, strerror(errno));
		return INST_EXIT_FAILURE;
	}
	log_info("removed '%s'", conf);
	for (size_t i = 0; i < ARRAY_SIZE(own); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", plexus_dir, own[i]);
		if (unlink(p) < 0 && errno != ENOENT) {
			log_error("remove '%s': %s", p, strerror(errno));
			return INST_EXIT_FAILURE;
		}
	}
	if (rmdir(plexus_dir) < 0 && errno != ENOENT)
		log_warning("remove '%s': %s, ignoring", plexus_dir, strerror(errno));
	return INST_EXIT_OK;
}

/* One installer per node at a time: during a rolling update the new pod's installer and the
 * old one run side by side (DaemonSet maxSurge). Claiming the conf, writing it and removing it
 * happen under an flock of the conf dir, so a claim and a removal never interleave. */
struct inst_node {
	const struct inst_opts *o;
	const char *plexus_dir;
	char id[33]; /* this run's random id, written to the owner file when it claims */
};

static int lock_conf_dir(const struct inst_node *n)
{
	_cleanup_close_ int fd = open(n->o->cni_conf_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = file_flock(fd);
	return r < 0 ? r : TAKE_FD(fd);
}

static void new_id(char id[static 33])
{
	uint8_t b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		(void)snprintf(id, 33, "%08x%024llx", (unsigned)getpid(),
			       (unsigned long long)clock_now_ms());
		return;
	}
	for (size_t i = 0; i < sizeof(b); i++)
		(void)snprintf(id + 2 * i, 3, "%02x", b[i]);
}

/* Whether the owner file names this run: the last installer to claim the conf. */
static bool is_owner(const struct inst_node *n)
{
	_cleanup_free_ char *p = xasprintf("%s/" INST_OWNER_NAME, n->plexus_dir);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (file_read_all(p, 64, &data, &len) < 0)
		return false;
	return len == strlen(n->id) + 1 && strncmp(data, n->id, len - 1) == 0 &&
	       data[len - 1] == '\n';
}

/* Claim the node and install credentials, kubeconfig and conflist for cluster c. Binaries
 * and credentials come before the conf: once it exists the runtime may call plexus. */
static int claim_and_install(const struct inst_node *n, const struct inst_cluster *c,
			     struct cni_err *err)
{
	_cleanup_close_ int lock = lock_conf_dir(n);
	if (lock < 0)
		return cni_err_set(err, CNI_ERR_IO, -lock, "lock --cni-conf-dir '%s': %s",
				   n->o->cni_conf_dir, strerror(-lock));
	int r;
	if ((r = inst_sync_credentials(n->o, n->plexus_dir, NULL, err)) < 0 ||
	    (r = inst_write_kubeconfig(n->o, n->plexus_dir, err)) < 0)
		return r;
	_cleanup_free_ char *owner = xasprintf("%s/" INST_OWNER_NAME, n->plexus_dir);
	_cleanup_free_ char *line = xasprintf("%s\n", n->id);
	if ((r = inst_write_file(owner, line, strlen(line), 0600)) < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "write '%s': %s", owner, strerror(-r));
	return inst_write_conflist(n->o, n->plexus_dir, c, err);
}

/* SIGTERM/SIGINT in watch mode: the pod is going away. Remove plexus's conf unless told to
 * keep it or a newer installer (the rolling update's new pod) has claimed it since. */
static int stop(const struct inst_node *n, int sig)
{
	if (n->o->keep_on_exit) {
		log_info("%s: keeping '" INST_CONF_NAME "' (--keep-on-exit), exiting",
			 strsignal(sig));
		return INST_EXIT_OK;
	}
	_cleanup_close_ int lock = lock_conf_dir(n);
	if (lock < 0) {
		log_error("%s: lock --cni-conf-dir '%s': %s", strsignal(sig), n->o->cni_conf_dir,
			  strerror(-lock));
		return INST_EXIT_FAILURE;
	}
	if (!is_owner(n)) {
		log_info("%s: '" INST_CONF_NAME "' is no longer this installer's (a newer one "
			 "claimed the node, or --uninstall ran), leaving it, exiting",
			 strsignal(sig));
		return INST_EXIT_OK;
	}
	log_info("%s: removing plexus's conf, exiting", strsignal(sig));
	return do_uninstall(n->o, n->plexus_dir);
}

static int read_signal(int sfd)
{
	struct signalfd_siginfo si;
	if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return SIGTERM;
	return (int)si.ssi_signo;
}

static bool is_ours(const char *name)
{
	return !name || !*name || name[0] == '.' || strcmp(name, INST_CONF_NAME) == 0;
}

/* Follow the service account (token rotation: the kubelet swaps a symlink, or a file is
 * replaced) and the conf dir (the cluster network changing) with inotify until a signal
 * arrives on sfd. Only the owner writes: after a newer installer claimed the node, this one
 * just waits for its end. */
static int watch(const struct inst_node *n, int sfd, struct inst_cluster *cur)
{
	const struct inst_opts *o = n->o;
	_cleanup_close_ int fd = inotify_init1(IN_CLOEXEC);
	if (fd < 0) {
		log_error("inotify: %s", strerror(errno));
		return INST_EXIT_FAILURE;
	}
	const uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM;
	int sa_wd = inotify_add_watch(fd, o->sa_dir, mask);
	if (sa_wd < 0) {
		log_error("--sa-dir '%s': inotify: %s", o->sa_dir, strerror(errno));
		return INST_EXIT_FAILURE;
	}
	int conf_wd = -1;
	if (!o->cluster_network && (conf_wd = inotify_add_watch(fd, o->cni_conf_dir, mask)) < 0) {
		log_error("--cni-conf-dir '%s': inotify: %s", o->cni_conf_dir, strerror(errno));
		return INST_EXIT_FAILURE;
	}
	log_info("watching '%s' for token rotation%s", o->sa_dir,
		 conf_wd >= 0 ? " and the conf dir for cluster network changes" : "");
	bool warned_missing = false;
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = sfd, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			return INST_EXIT_FAILURE;
		}
		if (p[1].revents)
			return stop(n, read_signal(sfd));
		if (!p[0].revents)
			continue;
		char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
		ssize_t len = read(fd, buf, sizeof(buf));
		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0) {
			log_error("inotify read: %s", len < 0 ? strerror(errno) : "end of file");
			return INST_EXIT_FAILURE;
		}
		bool sa = false, conf = false;
		for (char *e_p = buf; e_p < buf + len;) {
			const struct inotify_event *e = (const struct inotify_event *)(void *)e_p;
			if (e->wd == sa_wd)
				sa = true;
			else if (e->wd == conf_wd && !is_ours(e->len ? e->name : NULL))
				conf = true;
			e_p += sizeof(*e) + e->len;
		}
		_cleanup_close_ int lock = lock_conf_dir(n);
		if (lock < 0) {
			log_error("lock --cni-conf-dir '%s': %s", o->cni_conf_dir, strerror(-lock));
			return INST_EXIT_FAILURE;
		}
		if (!is_owner(n))
			continue;
		struct cni_err err = { 0 };
		bool changed = false;
		if (sa) {
			if (inst_sync_credentials(o, n->plexus_dir, &changed, &err) < 0)
				log_warning("%s, retrying on the next change", err.msg);
			else if (changed)
				log_info("service account token or CA changed: copies refreshed");
		}
		if (!conf)
			continue;
		struct inst_cluster c = { 0 };
		int r = inst_detect_cluster(o->cni_conf_dir, &c, &err);
		if (r < 0) {
			/* Keep our conf: ADD then fails loudly naming the missing file, which is
			 * better than pods silently landing on whatever conf comes next. */
			if (!warned_missing)
				log_warning("%s; keeping '" INST_CONF_NAME "'", err.msg);
			warned_missing = true;
			continue;
		}
		warned_missing = false;
		if (!inst_cluster_equal(&c, cur)) {
			if (inst_write_conflist(o, n->plexus_dir, &c, &err) < 0) {
				log_error("%s", err.msg);
				inst_cluster_done(&c);
				continue;
			}
			inst_cluster_done(cur);
			*cur = c;
		} else {
			inst_cluster_done(&c);
		}
	}
}

/* SIGTERM and SIGINT, blocked and read from a signalfd: the installer is PID 1 in its
 * container, where a signal left at its default action is ignored by the kernel. */
static int stop_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

int main(int argc, char **argv)
{
	struct inst_opts o = {
		.cni_bin_dir = "/host/opt/cni/bin",
		.cni_conf_dir = "/host/etc/cni/net.d",
		.sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount",
		.host_root = "/host",
		.cni_dir = "/var/lib/cni/multus",
		.nad_conf_dir = "/etc/cni/multus/net.d",
		.log_level = "warning",
		.readiness_timeout_s = 300,
	};
	log_set_program("plexus-install");
	log_set_level(LOG_LEVEL_INFO);
	int r = parse_args(argc, argv, &o);
	if (r != 0)
		return r > 0 ? INST_EXIT_OK : INST_EXIT_USAGE;
	_cleanup_free_ char *plexus_dir = o.plexus_conf_dir
						  ? xstrdup(o.plexus_conf_dir)
						  : xasprintf("%s/plexus.d", o.cni_conf_dir);
	struct inst_node node = { .o = &o, .plexus_dir = plexus_dir };
	if (o.uninstall) {
		/* Under the lock: a running installer's claim or rewrite must not interleave. */
		_cleanup_close_ int lock = lock_conf_dir(&node);
		if (lock < 0 && lock != -ENOENT) {
			log_error("lock --cni-conf-dir '%s': %s", o.cni_conf_dir, strerror(-lock));
			return INST_EXIT_FAILURE;
		}
		return do_uninstall(&o, plexus_dir);
	}

	_cleanup_close_ int sfd = stop_signals();
	if (sfd < 0) {
		log_error("signalfd: %s", strerror(-sfd));
		return INST_EXIT_FAILURE;
	}
	new_id(node.id);
	_cleanup_free_ char *src = o.src_bin_dir ? xstrdup(o.src_bin_dir) : default_src_dir();
	struct cni_err err = { 0 };
	struct inst_cluster cluster = { 0 };
	if ((r = file_mkdir_p(o.cni_conf_dir, 0755)) < 0) {
		log_error("--cni-conf-dir '%s': %s", o.cni_conf_dir, strerror(-r));
		return INST_EXIT_FAILURE;
	}
	if ((r = inst_copy_binaries(src, o.cni_bin_dir, &err)) < 0) {
		log_error("%s", err.msg);
		return INST_EXIT_FAILURE;
	}
	if ((r = inst_wait_cluster(o.cni_conf_dir, o.cluster_network, o.readiness_timeout_s, sfd,
				   &cluster, &err)) < 0) {
		if (r == -EINTR) {
			/* Nothing claimed yet: whatever conf exists is not ours to remove. */
			log_info("%s: %s, exiting", strsignal(read_signal(sfd)), err.msg);
			return INST_EXIT_OK;
		}
		log_error("%s", err.msg);
		return r == -ETIMEDOUT ? INST_EXIT_TIMEOUT : INST_EXIT_FAILURE;
	}
	if ((r = claim_and_install(&node, &cluster, &err)) < 0) {
		log_error("%s", err.msg);
		inst_cluster_done(&cluster);
		return INST_EXIT_FAILURE;
	}
	if (o.once) {
		inst_cluster_done(&cluster);
		return INST_EXIT_OK;
	}
	r = watch(&node, sfd, &cluster);
	inst_cluster_done(&cluster);
	return r;
}
