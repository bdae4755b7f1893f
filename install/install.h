/* SPDX-License-Identifier: Apache-2.0 */
/* plexus-install steps: copy binaries, kubeconfig, cluster network detection, plexus conflist. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct cni_err;

/* Exit codes of plexus-install (docs/install.md). */
enum {
	INST_EXIT_OK = 0,
	INST_EXIT_FAILURE = 1, /* an install step failed (I/O, environment, bad cluster conf) */
	INST_EXIT_USAGE = 2,   /* bad command line */
	INST_EXIT_TIMEOUT = 3, /* no cluster network appeared within --readiness-timeout */
};

#define INST_CONF_NAME "00-plexus.conflist"
#define INST_KUBECONFIG_NAME "plexus.kubeconfig"
#define INST_TOKEN_NAME "token"
#define INST_CA_NAME "ca.crt"
/* Names the installer that last installed 00-plexus.conflist: the one that removes it on exit. */
#define INST_OWNER_NAME "owner"

/* Options; every string is borrowed from argv or a static default. */
struct inst_opts {
	const char *cni_bin_dir;
	const char *cni_conf_dir;
	const char *plexus_conf_dir; /* NULL: <cni_conf_dir>/plexus.d */
	const char *src_bin_dir;     /* NULL: /usr/lib/plexus, else the running binary's dir */
	const char *sa_dir;
	const char *host_root; /* prefix stripped from paths written into configs ("" = none) */
	const char *cluster_network; /* NULL: auto-detect */
	const char *cni_dir;	     /* the meta-plugin's cniDir */
	const char *nad_conf_dir;    /* the meta-plugin's confDir */
	const char *log_level;
	const char *log_file;
	const char *api_relay;	  /* the meta-plugin's apiRelay (a host path); NULL: none */
	long readiness_timeout_s; /* 0 = wait forever */
	bool once;
	bool uninstall;
	bool keep_on_exit; /* SIGTERM/SIGINT leave the conf in place */
};

/* The detected cluster network: its path (as the installer sees it), cniVersion and the
 * capabilities its plugins declare. Owned; free with inst_cluster_done(). */
struct inst_cluster {
	char *path;
	char *cni_version;
	char **caps;
	int n_caps;
};

void inst_cluster_done(struct inst_cluster *c);
/* True when both name the same file, version and capabilities. */
bool inst_cluster_equal(const struct inst_cluster *a, const struct inst_cluster *b);

/* Copy every plexus CNI binary of src_dir into dst_dir: temp file in dst_dir, fsync, 0755,
 * rename. Returns the number copied (>= 1) or a negative errno with err set. */
int inst_copy_binaries(const char *src_dir, const char *dst_dir, struct cni_err *err);

/* Copy the service account's token and CA into plexus_dir (0600, atomic) when they differ
 * from what is there; *ret_changed tells whether anything was rewritten (may be NULL). */
int inst_sync_credentials(const struct inst_opts *o, const char *plexus_dir, bool *ret_changed,
			  struct cni_err *err);
/* Write <plexus_dir>/plexus.kubeconfig (0600, atomic): server from KUBERNETES_SERVICE_HOST /
 * KUBERNETES_SERVICE_PORT, certificate-authority and tokenFile naming the copies. */
int inst_write_kubeconfig(const struct inst_opts *o, const char *plexus_dir, struct cni_err *err);

/* Find the cluster network in conf_dir: the lexically first *.conf, *.conflist or *.json that
 * is not plexus's own (nor a plexus/multus conf). -ENOENT when none; -EAGAIN when the first
 * candidate does not parse yet (being written). err always names the reason. */
int inst_detect_cluster(const char *conf_dir, struct inst_cluster *ret, struct cni_err *err);
/* Read an explicitly named cluster network file. */
int inst_load_cluster(const char *path, struct inst_cluster *ret, struct cni_err *err);
/* inst_detect_cluster (or inst_load_cluster of explicit, when not NULL), waiting with inotify
 * up to timeout_s seconds (0 = forever) for a valid one. Timeout: -ETIMEDOUT, err says why.
 * stop_fd (-1 = none) becoming readable (a signalfd) ends the wait with -EINTR. */
int inst_wait_cluster(const char *conf_dir, const char *explicit, long timeout_s, int stop_fd,
		      struct inst_cluster *ret, struct cni_err *err);

/* Write <cni_conf_dir>/00-plexus.conflist (0644, atomic) for cluster c. */
int inst_write_conflist(const struct inst_opts *o, const char *plexus_dir,
			const struct inst_cluster *c, struct cni_err *err);

/* A path as the host sees it: p without o->host_root when p is below it. Borrowed from p. */
const char *inst_host_path(const struct inst_opts *o, const char *p);

/* Write data to path atomically with exactly mode (umask does not apply): hidden temp file in
 * the same directory, fsync, fchmod, rename, fsync of the directory. */
int inst_write_file(const char *path, const void *data, size_t len, unsigned mode);
