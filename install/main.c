// SPDX-License-Identifier: Apache-2.0
/* plexus-install: installs plexus on a node from its DaemonSet pod and keeps it current. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "install/install.h"
#include "lib/cni/err.h"
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
	const char *own[] = { INST_KUBECONFIG_NAME, INST_TOKEN_NAME, INST_CA_NAME };
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

static bool is_ours(const char *name)
{
	return !name || !*name || name[0] == '.' || strcmp(name, INST_CONF_NAME) == 0;
}

/* Follow the service account (token rotation: the kubelet swaps a symlink, or a file is
 * replaced) and the conf dir (the cluster network changing) with inotify; never returns
 * unless inotify itself fails. */
static int watch(const struct inst_opts *o, const char *plexus_dir, struct inst_cluster *cur)
{
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
		char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_error("inotify read: %s", n < 0 ? strerror(errno) : "end of file");
			return INST_EXIT_FAILURE;
		}
		bool sa = false, conf = false;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)(void *)p;
			if (e->wd == sa_wd)
				sa = true;
			else if (e->wd == conf_wd && !is_ours(e->len ? e->name : NULL))
				conf = true;
			p += sizeof(*e) + e->len;
		}
		struct cni_err err = { 0 };
		bool changed = false;
		if (sa) {
			if (inst_sync_credentials(o, plexus_dir, &changed, &err) < 0)
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
			if (inst_write_conflist(o, plexus_dir, &c, &err) < 0) {
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
	if (o.uninstall)
		return do_uninstall(&o, plexus_dir);

	_cleanup_free_ char *src = o.src_bin_dir ? xstrdup(o.src_bin_dir) : default_src_dir();
	struct cni_err err = { 0 };
	struct inst_cluster cluster = { 0 };
	if ((r = file_mkdir_p(o.cni_conf_dir, 0755)) < 0) {
		log_error("--cni-conf-dir '%s': %s", o.cni_conf_dir, strerror(-r));
		return INST_EXIT_FAILURE;
	}
	/* Binaries and credentials first: once our conf exists the runtime may call plexus. */
	if ((r = inst_copy_binaries(src, o.cni_bin_dir, &err)) < 0 ||
	    (r = inst_sync_credentials(&o, plexus_dir, NULL, &err)) < 0 ||
	    (r = inst_write_kubeconfig(&o, plexus_dir, &err)) < 0) {
		log_error("%s", err.msg);
		return INST_EXIT_FAILURE;
	}
	if ((r = inst_wait_cluster(o.cni_conf_dir, o.cluster_network, o.readiness_timeout_s,
				   &cluster, &err)) < 0) {
		log_error("%s", err.msg);
		return r == -ETIMEDOUT ? INST_EXIT_TIMEOUT : INST_EXIT_FAILURE;
	}
	if ((r = inst_write_conflist(&o, plexus_dir, &cluster, &err)) < 0) {
		log_error("%s", err.msg);
		inst_cluster_done(&cluster);
		return INST_EXIT_FAILURE;
	}
	if (o.once) {
		inst_cluster_done(&cluster);
		return INST_EXIT_OK;
	}
	r = watch(&o, plexus_dir, &cluster);
	inst_cluster_done(&cluster);
	return r;
}
