// SPDX-License-Identifier: Apache-2.0
/* Links: look-up, up, delete, and creation in another netns under a temporary name. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cni/err.h"
#include "lib/cni/netns.h"
#include "lib/net/internal.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"
#include "lib/util/log.h"

/* What the kernel's dev_valid_name() accepts. */
static bool ifname_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n >= IFNAMSIZ || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || name[i] == ':' || name[i] == ' ' || name[i] == '\t' ||
		    name[i] == '\n' || name[i] == '\r' || name[i] == '\v' || name[i] == '\f')
			return false;
	return true;
}

int net_link_get(struct nl_sock *sk, const char *name, struct rtnl_link **ret, struct cni_err *err)
{
	/* A name the kernel cannot hold cannot exist either. */
	if (strlen(name) >= IFNAMSIZ)
		return cni_err_set(err, CNI_ERR_DEVICE, ENODEV, "link '%s' not found", name);
	struct rtnl_link *link = NULL;
	int r = rtnl_link_get_kernel(sk, 0, name, &link);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return cni_err_set(err, CNI_ERR_DEVICE, ENODEV, "link '%s' not found", name);
	if (r < 0)
		return net_err(err, r, "look up link '%s'", name);
	*ret = link;
	return 0;
}

int net_sock_link_open(const char *name, struct nl_sock **ret_sk, struct rtnl_link **ret_link,
		       struct cni_err *err)
{
	int r = net_sock_open(ret_sk, err);
	return r < 0 ? r : net_link_get(*ret_sk, name, ret_link, err);
}

int net_link_get_by_index(struct nl_sock *sk, int ifindex, struct rtnl_link **ret,
			  struct cni_err *err)
{
	if (ifindex <= 0)
		return cni_err_set(err, CNI_ERR_DEVICE, ENODEV, "link with index %d not found",
				   ifindex);
	struct rtnl_link *link = NULL;
	int r = rtnl_link_get_kernel(sk, ifindex, NULL, &link);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return cni_err_set(err, CNI_ERR_DEVICE, ENODEV, "link with index %d not found",
				   ifindex);
	if (r < 0)
		return net_err(err, r, "look up link with index %d", ifindex);
	*ret = link;
	return 0;
}

/* 1 if name exists, 0 if not, < 0 on error. */
static int link_exists(struct nl_sock *sk, const char *name, struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = rtnl_link_get_kernel(sk, 0, name, &link);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return 0;
	if (r < 0)
		return net_err(err, r, "look up link '%s'", name);
	return 1;
}

int net_link_set_up_index(struct nl_sock *sk, int ifindex, struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *orig = rtnl_link_alloc();
	_cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
	if (!orig || !change)
		return cni_err_set(err, CNI_ERR_NETLINK, ENOMEM, "allocate link");
	rtnl_link_set_ifindex(orig, ifindex);
	rtnl_link_set_flags(change, IFF_UP);
	int r = rtnl_link_change(sk, orig, change, 0);
	if (r < 0)
		return net_err(err, r, "set link with index %d up", ifindex);
	return 0;
}

int net_link_set_up(struct nl_sock *sk, const char *name, struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = net_link_get(sk, name, &link, err);
	if (r < 0)
		return r;
	r = net_link_set_up_index(sk, rtnl_link_get_ifindex(link), err);
	if (r < 0)
		return cni_err_wrap(err, "set '%s' up", name);
	return 0;
}

/* RTM_DELLINK by name, or by ifindex when name is NULL; a missing link is success. */
static int del_link(struct nl_sock *sk, const char *name, int ifindex, struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *link = rtnl_link_alloc();
	if (!link)
		return cni_err_set(err, CNI_ERR_NETLINK, ENOMEM, "allocate link");
	if (name)
		rtnl_link_set_name(link, name);
	else
		rtnl_link_set_ifindex(link, ifindex);
	int r = rtnl_link_delete(sk, link);
	if (r >= 0 || r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return 0;
	return name ? net_err(err, r, "delete link '%s'", name)
		    : net_err(err, r, "delete link with index %d", ifindex);
}

int net_link_del(struct nl_sock *sk, const char *name, struct cni_err *err)
{
	return strlen(name) >= IFNAMSIZ ? 0 : del_link(sk, name, 0, err);
}

int net_link_del_index(struct nl_sock *sk, int ifindex, struct cni_err *err)
{
	return del_link(sk, NULL, ifindex, err);
}

static int eexist(struct cni_err *err, const char *ifname)
{
	return cni_err_set(err, CNI_ERR_DEVICE, EEXIST,
			   "interface '%s' already exists in the container netns", ifname);
}

struct create_args {
	struct nl_sock *host_sk; /* opened in the caller's netns: IFLA_LINK resolves there */
	struct rtnl_link *link;	 /* template clone: temporary name + IFLA_NET_NS_FD */
	const char *tmpname;
	const char *ifname;
	int ifindex;
};

/* Whether link is of kind (IFLA_INFO_KIND); links without one (physical netdevs) never are. */
static bool link_is_kind(struct rtnl_link *link, const char *kind)
{
	const char *type = rtnl_link_get_type(link);
	return kind && type && strcmp(type, kind) == 0;
}

/* Delete tmpname in sk's netns only if it is a link of kind: under an attachment's temporary
 * name it can only be what a killed ADD or DEL of that attachment left. 1 when deleted. */
static int del_tmp_if_kind(struct nl_sock *sk, const char *tmpname, const char *kind,
			   struct cni_err *err)
{
	_cleanup_link_ struct rtnl_link *link = NULL;
	int r = rtnl_link_get_kernel(sk, 0, tmpname, &link);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return 0;
	if (r < 0)
		return net_err(err, r, "look up link '%s'", tmpname);
	if (!link_is_kind(link, kind)) {
		log_debug("'%s' is not a %s link, not ours: keeping it", tmpname, kind);
		return 0;
	}
	r = net_link_del(sk, tmpname, err);
	return r < 0 ? r : 1;
}

/* Runs inside the target netns. host_sk still talks to the netns it was opened in, so the
 * create request is made there while the look-ups and rename use a socket opened here. */
static int create_in_netns(void *arg, struct cni_err *err)
{
	struct create_args *a = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;

	/* Cheap pre-check so a collision leaves nothing behind; the rename below still
	 * catches the race with someone creating ifname meanwhile. */
	r = link_exists(sk, a->ifname, err);
	if (r < 0)
		return r;
	if (r > 0)
		return eexist(err, a->ifname);
	/* A leftover of a killed ADD of this attachment would block the temporary name. */
	r = del_tmp_if_kind(sk, a->tmpname, rtnl_link_get_type(a->link), err);
	if (r < 0)
		return r;

	r = rtnl_link_add(a->host_sk, a->link, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0)
		return net_err(err, r, "create link '%s' (temporary name '%s')", a->ifname,
			       a->tmpname);

	/* From here on the temporary link exists and must go on failure. */
	_cleanup_link_ struct rtnl_link *tmp = NULL;
	_cleanup_link_ struct rtnl_link *change = NULL;
	r = rtnl_link_get_kernel(sk, 0, a->tmpname, &tmp);
	if (r < 0) {
		r = net_err(err, r, "look up new link '%s'", a->tmpname);
		goto fail;
	}
	change = rtnl_link_alloc();
	if (!change) {
		r = cni_err_set(err, CNI_ERR_NETLINK, ENOMEM, "allocate link");
		goto fail;
	}
	/* Renaming needs the link down, which a freshly created link is. */
	rtnl_link_set_name(change, a->ifname);
	r = rtnl_link_change(sk, tmp, change, 0);
	if (r == -NLE_EXIST) {
		r = eexist(err, a->ifname);
		goto fail;
	}
	if (r < 0) {
		r = net_err(err, r, "rename '%s' to '%s'", a->tmpname, a->ifname);
		goto fail;
	}
	a->ifindex = rtnl_link_get_ifindex(tmp);
	return 0;

fail:
	(void)net_link_del(sk, a->tmpname, NULL);
	return r;
}

void net_tmp_ifname_for(const char *container_id, const char *ifname, char ret[IFNAMSIZ])
{
	/* FNV-1a 64 over "containerID\0ifname", 48 bits shown: stable across processes. */
	uint64_t h = 14695981039346656037ull;
	for (const char *p = container_id; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h *= 1099511628211ull;
	for (const char *p = ifname; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	(void)snprintf(ret, IFNAMSIZ, "plx%012llx", (unsigned long long)(h >> 16));
}

bool net_tmp_ifname_is(const char *name)
{
	if (strlen(name) != 15 || strncmp(name, "plx", 3) != 0)
		return false;
	for (const char *c = name + 3; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return false;
	return true;
}

int net_link_create_in_netns(struct nl_sock *sk, struct rtnl_link *tmpl, int netns_fd,
			     const char *tmpname, const char *ifname, int *ret_ifindex,
			     struct cni_err *err)
{
	if (!ifname_valid(ifname))
		return cni_err_set(err, CNI_ERR_DEVICE, EINVAL, "invalid interface name '%s'",
				   ifname);

	_cleanup_link_ struct rtnl_link *link =
		(struct rtnl_link *)nl_object_clone((struct nl_object *)tmpl);
	if (!link)
		return cni_err_set(err, CNI_ERR_NETLINK, ENOMEM, "clone link template");
	/* Never create under the final name: with IFLA_NET_NS_FD the kernel checks the name
	 * in the netns the request comes from too, so a host link called ifname would make
	 * creation fail (the reference works around the same kernel bug). */
	rtnl_link_set_name(link, tmpname);
	rtnl_link_set_ns_fd(link, netns_fd);

	struct create_args a = {
		.host_sk = sk,
		.link = link,
		.tmpname = tmpname,
		.ifname = ifname,
	};
	int r = cni_netns_run(netns_fd, create_in_netns, &a, err);
	if (r < 0)
		return r;
	*ret_ifindex = a.ifindex;
	return 0;
}

struct del_tmp_args {
	const char *tmpname;
	const char *kind;
};

static int del_tmp_in_netns(void *arg, struct cni_err *err)
{
	struct del_tmp_args *a = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	r = del_tmp_if_kind(sk, a->tmpname, a->kind, err);
	if (r > 0)
		log_info("deleted '%s', left under its temporary name by an interrupted ADD",
			 a->tmpname);
	return r < 0 ? r : 0;
}

int net_link_del_attachment(int netns_fd, const char *ifname, const char *tmpname, const char *kind,
			    struct cni_err *err)
{
	struct del_tmp_args a = { .tmpname = tmpname, .kind = kind };
	int r = cni_netns_run(netns_fd, del_tmp_in_netns, &a, err);
	return r < 0 ? r : net_link_retire_in_netns(netns_fd, ifname, err);
}

static int del_in_netns(void *arg, struct cni_err *err)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	return net_link_del(sk, arg, err);
}

int net_link_del_in_netns(int netns_fd, const char *ifname, struct cni_err *err)
{
	return cni_netns_run(netns_fd, del_in_netns, (void *)ifname, err);
}

/* The deletion batch: one netns (open while netns_fd >= 0), the names tagged in it.
 * Process-wide; names are added under batch_lock (the meta-plugin's DEL runs attachments on
 * threads), begin and end run on one thread with no retire in flight. */
static pthread_mutex_t batch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	dev_t dev;
	ino_t ino;
	int netns_fd;
	char **names;
	size_t n;
} batch = { .netns_fd = -1 };

static bool same_netns(int fd)
{
	struct stat st;
	return batch.netns_fd >= 0 && fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == batch.dev &&
	       st.st_ino == batch.ino;
}

void net_del_batch_begin(int netns_fd)
{
	struct stat st;
	if (batch.netns_fd >= 0 || netns_fd < 0 || fstat(netns_fd, &st) < 0)
		return;
	int fd = fcntl(netns_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return;
	batch.dev = st.st_dev;
	batch.ino = st.st_ino;
	batch.netns_fd = fd;
}

/* RTM_SETLINK or RTM_DELLINK carrying IFLA_GROUP, by name or (name NULL) for the group. */
static int group_request(struct nl_sock *sk, int type, const char *name)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nl_msg *msg = nlmsg_alloc_simple(type, NLM_F_ACK);
	if (!msg)
		return -NLE_NOMEM;
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    (name && nla_put_string(msg, IFLA_IFNAME, name) < 0) ||
	    nla_put_u32(msg, IFLA_GROUP, NET_DEL_GROUP) < 0) {
		nlmsg_free(msg);
		return -NLE_NOMEM;
	}
	return nl_send_sync(sk, msg); /* frees msg */
}

static int tag_in_netns(void *arg, struct cni_err *err)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	r = group_request(sk, RTM_SETLINK, arg);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return 1; /* already gone: nothing to delete */
	return r < 0 ? net_err(err, r, "tag link '%s' for deletion", (const char *)arg) : 0;
}

int net_link_retire_in_netns(int netns_fd, const char *ifname, struct cni_err *err)
{
	if (!same_netns(netns_fd) || strlen(ifname) >= IFNAMSIZ)
		return net_link_del_in_netns(netns_fd, ifname, err);
	struct cni_err e = { 0 };
	int r = cni_netns_run(netns_fd, tag_in_netns, (void *)ifname, &e);
	if (r < 0) {
		log_debug("%s; deleting it now", e.msg);
		return net_link_del_in_netns(netns_fd, ifname, err);
	}
	if (r == 0) {
		pthread_mutex_lock(&batch_lock);
		batch.names = xrealloc(batch.names, (batch.n + 1) * sizeof(*batch.names));
		batch.names[batch.n++] = xstrdup(ifname);
		pthread_mutex_unlock(&batch_lock);
	}
	return 0;
}

static int del_group_in_netns(void *arg, struct cni_err *err)
{
	(void)arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	r = group_request(sk, RTM_DELLINK, NULL);
	if (r >= 0 || r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return 0;
	/* A foreign link carrying the group (the kernel then refuses the whole group with
	 * EOPNOTSUPP) or an older kernel: delete ours one by one. */
	log_debug("group delete: %s; deleting %zu link(s) one by one", nl_geterror(r), batch.n);
	int first = 0;
	for (size_t i = 0; i < batch.n; i++) {
		struct cni_err e = { 0 };
		int rr = net_link_del(sk, batch.names[i], &e);
		if (rr < 0 && !first) {
			first = rr;
			*err = e;
		}
	}
	return first;
}

int net_del_batch_end(struct cni_err *err)
{
	if (batch.netns_fd < 0)
		return 0;
	int r = batch.n ? cni_netns_run(batch.netns_fd, del_group_in_netns, NULL, err) : 0;
	for (size_t i = 0; i < batch.n; i++)
		free(batch.names[i]);
	free(batch.names);
	(void)close(batch.netns_fd);
	batch.names = NULL;
	batch.n = 0;
	batch.netns_fd = -1;
	return r;
}
