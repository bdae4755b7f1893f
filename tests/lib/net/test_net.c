// SPDX-License-Identifier: Apache-2.0
/* Netns-tier tests for lib/net and lib/cni/netns.c: real links in throwaway namespaces (root). */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <netlink/route/link/macvlan.h>

#include "lib/cni/err.h"
#include "lib/cni/netns.h"
#include "lib/net/net.h"
#include "lib/util/cleanup.h"
#include "lib/util/parse.h"

static bool is_root;
static int fixture_seq;

/* One netns plus one host veth pair (the macvlan master) per test. */
struct fx {
	char ns[32];
	int ns_fd;
	char veth[IFNAMSIZ], peer[IFNAMSIZ];
	int veth_index;
};

#define NEED_ROOT()                                                                                \
	do {                                                                                       \
		if (!is_root) {                                                                    \
			fprintf(stderr, "!!! %s: NOT ROOT: SKIPPED (needs root) !!!\n", __func__); \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *cmd = NULL;
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	int r = system(cmd);
	return r == 0 ? 0 : -1;
}

/* stdout of a shell command, caller frees. */
static char *sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sh_out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *cmd = NULL;
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	size_t cap = 4096, len = 0;
	char *buf = xmalloc(cap);
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2)
			buf = xrealloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	(void)pclose(f);
	return buf;
}

static int fx_setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));
	fx->ns_fd = -1;
	*state = fx;
	if (!is_root)
		return 0;
	int n = ++fixture_seq;
	int pid = (int)getpid();
	(void)snprintf(fx->ns, sizeof(fx->ns), "plx-t-%d-%d", pid, n);
	(void)snprintf(fx->veth, sizeof(fx->veth), "plxv%d%c", pid % 10000000, 'a' + n);
	(void)snprintf(fx->peer, sizeof(fx->peer), "plxp%d%c", pid % 10000000, 'a' + n);
	if (sh("ip netns add %s", fx->ns) < 0)
		return -1;
	if (sh("ip link add %s type veth peer name %s && ip link set %s up && ip link set %s up",
	       fx->veth, fx->peer, fx->veth, fx->peer) < 0)
		return -1;
	fx->veth_index = (int)if_nametoindex(fx->veth);
	_cleanup_free_ char *path = xasprintf("/run/netns/%s", fx->ns);
	struct cni_err err = { 0 };
	return cni_netns_open(path, &fx->ns_fd, &err) < 0 || fx->veth_index <= 0 ? -1 : 0;
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;
	if (fx->ns_fd >= 0)
		(void)close(fx->ns_fd);
	if (fx->ns[0])
		(void)sh("ip netns del %s 2>/dev/null", fx->ns);
	if (fx->veth[0])
		(void)sh("ip link del %s 2>/dev/null", fx->veth);
	free(fx);
	return 0;
}

/* Create a bridge-mode macvlan on the host veth, named ifname inside the test netns. */
static int create_macvlan(struct fx *fx, const char *ifname, int *ret_ifindex, struct cni_err *err)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	_cleanup_link_ struct rtnl_link *tmpl = rtnl_link_macvlan_alloc();
	assert_non_null(tmpl);
	rtnl_link_set_link(tmpl, fx->veth_index);
	assert_int_equal(rtnl_link_macvlan_set_mode(tmpl, rtnl_link_macvlan_str2mode("bridge")), 0);
	char tmpname[IFNAMSIZ];
	net_tmp_ifname_for("test-container", ifname, tmpname);
	return net_link_create_in_netns(sk, tmpl, fx->ns_fd, tmpname, ifname, ret_ifindex, err);
}

/* Whether any link in the netns still has a temporary "plx" name. */
static bool ns_has_temp_link(struct fx *fx)
{
	_cleanup_free_ char *out =
		sh_out("ip -n %s -o link show | awk -F': ' '{print $2}' | grep '^plx'", fx->ns);
	return out[0] != '\0';
}

static void ipnet(const char *s, struct ip_net *ret)
{
	assert_int_equal(parse_ipnet(s, ret), 0);
}

static void ipaddr(const char *s, struct ip_addr *ret)
{
	assert_int_equal(parse_ip(s, ret), 0);
}

/* ---- lib/cni/netns.c ------------------------------------------------------------------- */

static void test_netns_open_missing_path(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	int fd = -1;
	assert_int_equal(cni_netns_open("/run/netns/plx-does-not-exist", &fd, &err), -ENOENT);
	assert_int_equal(err.code, CNI_ERR_NETNS);
	assert_non_null(strstr(err.msg, "'/run/netns/plx-does-not-exist'"));
	assert_int_equal(fd, -1);
}

static void test_netns_open_regular_file_is_invalid(void **state)
{
	(void)state;
	char path[] = "/tmp/plexus-test-netns.XXXXXX";
	int tfd = mkstemp(path);
	assert_true(tfd >= 0);
	(void)close(tfd);
	struct cni_err err = { 0 };
	int fd = -1;
	int r = cni_netns_open(path, &fd, &err);
	(void)unlink(path);
	assert_int_equal(r, -EINVAL);
	assert_int_equal(err.code, CNI_ERR_INVALID_NETNS);
	assert_int_equal(fd, -1);
}

static void test_netns_open_other_ns_type_is_invalid(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	int fd = -1;
	/* nsfs, but a UTS namespace. */
	assert_int_equal(cni_netns_open("/proc/self/ns/uts", &fd, &err), -EINVAL);
	assert_int_equal(err.code, CNI_ERR_INVALID_NETNS);
}

static void test_netns_is_current_own_netns(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	int fd = -1;
	assert_int_equal(cni_netns_open("/proc/self/ns/net", &fd, &err), 0);
	bool cur = false;
	assert_int_equal(cni_netns_is_current(fd, &cur, &err), 0);
	assert_true(cur);
	int flags = fcntl(fd, F_GETFD);
	assert_true(flags & FD_CLOEXEC);
	(void)close(fd);
}

struct run_probe {
	int fd;
	bool inside;
};

static int probe_fn(void *arg, struct cni_err *err)
{
	struct run_probe *p = arg;
	int r = cni_netns_is_current(p->fd, &p->inside, err);
	return r < 0 ? r : 42;
}

static void test_netns_run_enters_and_restores(void **state)
{
	NEED_ROOT();
	struct fx *fx = *state;
	struct cni_err err = { 0 };
	bool cur = true;
	assert_int_equal(cni_netns_is_current(fx->ns_fd, &cur, &err), 0);
	assert_false(cur);
	struct run_probe p = { .fd = fx->ns_fd };
	assert_int_equal(cni_netns_run(fx->ns_fd, probe_fn, &p, &err), 42);
	assert_true(p.inside);
	assert_int_equal(cni_netns_is_current(fx->ns_fd, &cur, &err), 0);
	assert_false(cur);
}

/* ---- links ------------------------------------------------------------------------------ */

static void test_net_sock_open_is_cloexec(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	assert_int_equal(net_sock_open(&sk, &err), 0);
	assert_true(fcntl(nl_socket_get_fd(sk), F_GETFD) & FD_CLOEXEC);
}

static void test_net_link_create_in_netns_renames(void **state)
{
	NEED_ROOT();
	struct fx *fx = *state;
	struct cni_err err = { 0 };
	int ifindex = 0;
	int r = create_macvlan(fx, "net1", &ifindex, &err);
	assert_int_equal(r, 0);
	assert_true(ifindex > 0);
	_cleanup_free_ char *out = sh_out("ip -n %s -d -o link show net1 2>/dev/null", fx->ns);
	_cleanup_free_ char *want = xasprintf("%d: net1@", ifindex);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "macvlan mode bridge"));
	assert_false(ns_has_temp_link(fx));
	/* Nothing stayed on the host side. */
	_cleanup_free_ char *host = sh_out("ip -o link show type macvlan");
	_cleanup_free_ char *on_master = xasprintf("@%s:", fx->veth);
	assert_null(strstr(host, on_master));
}

static void test_net_link_create_in_netns_host_name_collision(void **state)
{
	NEED_ROOT();
	struct fx *fx = *state;
	struct cni_err err = { 0 };
	int ifindex = 0;
	/* Temporary name first: the host already has a link of that name (the master itself). */
	assert_int_equal(create_macvlan(fx, fx->veth, &ifindex, &err), 0);
	assert_int_equal(sh("ip -n %s link show %s >/dev/null", fx->ns, fx->veth), 0);
}

static void test_net_link_create_in_netns_eexist(void **state)
{
	NEED_ROOT();
	struct fx *fx = *state;
	assert_int_equal(sh("ip -n %s link add net1 type veth peer name net1p", fx->ns), 0);
	struct cni_err err = { 0 };
	int ifindex = -7;
	assert_int_equal(create_macvlan(fx, "net1", &ifindex, &err), -EEXIST);
	assert_int_equal(err.code, CNI_ERR_DEVICE);
	assert_string_equal(err.msg, "interface 'net1' already exists in the container netns");
	assert_int_equal(ifindex, -7);
	assert_false(ns_has_temp_link(fx));
}

static void test_net_link_create_in_netns_bad_master_cleans_up(void **state)
{
	NEED_ROOT();
	struct fx *fx = *state;
	fx->veth_index = 999999; /* no such master */
	struct cni_err err = { 0 };
	int ifindex = 0;
	int r = create_macvlan(fx, "net1", &ifindex, &err);
	assert_true(r < 0);
	assert_int_equal(err.code, CNI_ERR_NETLINK);
	assert_false(ns_has_temp_link(fx));
}

static void test_net_tmp_ifname_for(void **state)
{
	(void)state;
	char a[IFNAMSIZ], b[IFNAMSIZ], c[IFNAMSIZ];
	net_tmp_ifname_for("cid", "net1", a);
	net_tmp_ifname_for("cid", "net1", b);
	net_tmp_ifname_for("cid", "net2", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 15);
	assert_memory_equal(a, "plx", 3);
	assert_int_equal(strspn(a + 3, "0123456789abcdef"), 12);
	/* The split between id and ifname matters. */
	net_tmp_ifname_for("ab", "c", a);
	net_tmp_ifname_for("a", "bc", b);
	assert_string_not_equal(a, b);
	/* The value tests/lib.sh's tmp_ifname computes too. */
	net_tmp_ifname_for("cid-kill", "eth0", a);
	_cleanup_free_ char *sh_name =
		sh_out("bash -c 'source tests/lib.sh >/dev/null; tmp_ifname cid-kill eth0'");
	if (sh_name[0])
		assert_non_null(strstr(sh_name, a));
}

/* A killed ADD left a link of the same kind under the temporary name: the next create (and
 * DEL) removes it; a link of another kind under that name is not ours and stays. */
static void test_net_link_tmp_leftover(void **state)
{
	NEED_ROOT();
	struct fx *fx = *state;
	char tmp[IFNAMSIZ];
	net_tmp_ifname_for("test-container", "net1", tmp);
	assert_int_equal(sh("ip link add %s link %s type macvlan mode bridge && "
			    "ip link set %s netns %s",
			    tmp, fx->veth, tmp, fx->ns),
			 0);
	struct cni_err err = { 0 };
	int ifindex = 0;
	assert_int_equal(create_macvlan(fx, "net1", &ifindex, &err), 0);
	assert_false(ns_has_temp_link(fx));

	assert_int_equal(sh("ip -n %s link add %s type veth peer name plxq%d", fx->ns, tmp,
			    (int)(getpid() % 100000)),
			 0);
	assert_int_equal(net_link_del_attachment(fx->ns_fd, "net1", tmp, "macvlan", &err), 0);
	assert_int_equal(sh("ip -n %s link show net1 >/dev/null 2>&1", fx->ns), -1);
	assert_int_equal(sh("ip -n %s link show %s >/dev/null 2>&1", fx->ns, tmp), 0);
	assert_int_equal(net_link_del_attachment(fx->ns_fd, "net1", tmp, "veth", &err), 0);
	assert_int_equal(sh("ip -n %s link show %s >/dev/null 2>&1", fx->ns, tmp), -1);
}

static void test_net_link_create_in_netns_invalid_name(void **state)
{
	NEED_ROOT();
	struct fx *fx = *state;
	struct cni_err err = { 0 };
	int ifindex = 0;
	assert_int_equal(create_macvlan(fx, "a/b", &ifindex, &err), -EINVAL);
	assert_int_equal(create_macvlan(fx, "waytoolonginterfacename", &ifindex, &err), -EINVAL);
}

static int del_missing_fn(void *arg, struct cni_err *err)
{
	(void)arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = net_sock_open(&sk, err);
	if (r < 0)
		return r;
	r = net_link_del(sk, "plx-missing", err);
	if (r < 0)
		return r;
	/* Present link: deleted. */
	r = net_link_del(sk, "net1", err);
	if (r < 0)
		return r;
	_cleanup_link_ struct rtnl_link *l = NULL;
	struct cni_err e2 = { 0 };
	r = net_link_get(sk, "net1", &l, &e2);
	return r == -ENODEV && e2.code == CNI_ERR_DEVICE ? 0 : -1;
}

static void test_net_link_del_missing_is_success(void **state)
{
	NEED_ROOT();
	struct fx *fx = *state;
	struct cni_err err = { 0 };
	int ifindex = 0;
	assert_int_equal(create_macvlan(fx, "net1", &ifindex, &err), 0);
	assert_int_equal(cni_netns_run(fx->ns_fd, del_missing_fn, NULL, &err), 0);
}

/* ---- default route ------------------------------------------------------------------------ */

struct defroute {
	char name[IFNAMSIZ];
	struct cni_err err;
	int r;
};

static int defroute_fn(void *arg, struct cni_err *err)
{
	(void)err;
	struct defroute *d = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	d->r = net_sock_open(&sk, &d->err);
	if (d->r == 0)
		d->r = net_default_route_iface(sk, d->name, &d->err);
	return 0;
}

static void test_net_default_route_iface(void **state)
{
	NEED_ROOT();
	struct fx *fx = *state;
	struct cni_err err = { 0 };
	struct defroute d = { 0 };
	assert_int_equal(sh("ip link set %s netns %s && ip -n %s link set %s up", fx->peer, fx->ns,
			    fx->ns, fx->peer),
			 0);

	assert_int_equal(cni_netns_run(fx->ns_fd, defroute_fn, &d, &err), 0);
	assert_int_equal(d.r, -ENOENT);
	assert_int_equal(d.err.code, CNI_ERR_DEVICE);

	/* IPv6 only. */
	assert_int_equal(sh("ip -n %s -6 route add default dev %s", fx->ns, fx->peer), 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(cni_netns_run(fx->ns_fd, defroute_fn, &d, &err), 0);
	assert_int_equal(d.r, 0);
	assert_string_equal(d.name, fx->peer);

	/* IPv4 wins; a default route in another table does not count. */
	assert_int_equal(sh("ip -n %s link add net9 type veth peer name net9p && "
			    "ip -n %s link set net9 up && ip -n %s link set net9p up && "
			    "ip -n %s addr add 10.50.0.2/24 dev net9 && "
			    "ip -n %s route add default via 10.50.0.1 dev %s table 77 onlink && "
			    "ip -n %s route add default via 10.50.0.1",
			    fx->ns, fx->ns, fx->ns, fx->ns, fx->ns, fx->peer, fx->ns),
			 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(cni_netns_run(fx->ns_fd, defroute_fn, &d, &err), 0);
	assert_int_equal(d.r, 0);
	assert_string_equal(d.name, "net9");
}

/* ---- addresses, routes, configure, check ---------------------------------------------- */

struct cfg {
	const char *ifname;
	int iface_index;
	struct cni_result *res;
	int r;
	struct cni_err err;
};

static int configure_fn(void *arg, struct cni_err *err)
{
	(void)err;
	struct cfg *c = arg;
	c->r = net_iface_configure(c->ifname, c->iface_index, c->res, &c->err);
	return 0;
}

static int check_fn(void *arg, struct cni_err *err)
{
	(void)err;
	struct cfg *c = arg;
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	c->r = net_sock_open(&sk, &c->err);
	if (c->r == 0)
		c->r = net_check_addrs(sk, c->ifname, c->iface_index, c->res, &c->err);
	if (c->r == 0)
		c->r = net_check_routes(sk, c->res, &c->err);
	return 0;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' not found in:\n%s", needle, hay);
}

static void test_net_iface_configure_v4_v6(void **state)
{
	NEED_ROOT();
	struct fx *fx = *state;
	struct cni_err err = { 0 };
	int ifindex = 0;
	assert_int_equal(create_macvlan(fx, "net1", &ifindex, &err), 0);

	struct cni_iface ifs[2] = { { .name = (char *)"host0" }, { .name = (char *)"net1" } };
	struct cni_ip ips[4] = { 0 };
	ipnet("10.10.0.5/24", &ips[0].address);
	ipaddr("10.10.0.1", &ips[0].gateway);
	ips[0].interface = 1;
	ipnet("fd00:10::5/64", &ips[1].address);
	ipaddr("fd00:10::1", &ips[1].gateway);
	ips[1].interface = 1;
	ipnet("10.20.0.5/24", &ips[2].address); /* no interface: not added */
	ips[2].interface = -1;
	ipnet("10.30.0.5/24", &ips[3].address); /* another interface: not added */
	ips[3].interface = 0;
	struct cni_route routes[4] = { 0 };
	ipnet("0.0.0.0/0", &routes[0].dst);
	ipnet("192.168.5.7/24", &routes[1].dst); /* host bits as given */
	ipaddr("10.10.0.254", &routes[1].gw);
	routes[1].has = CNI_ROUTE_HAS_TABLE | CNI_ROUTE_HAS_PRIORITY | CNI_ROUTE_HAS_MTU |
			CNI_ROUTE_HAS_ADVMSS;
	routes[1].table = 100;
	routes[1].priority = 50;
	routes[1].mtu = 1400;
	routes[1].advmss = 1360;
	ipnet("::/0", &routes[2].dst);
	ipnet("fd00:99::/48", &routes[3].dst);
	routes[3].has = CNI_ROUTE_HAS_PRIORITY;
	routes[3].priority = 7;
	struct cni_result res = { .interfaces = ifs,
				  .n_interfaces = 2,
				  .ips = ips,
				  .n_ips = 4,
				  .routes = routes,
				  .n_routes = 4 };

	/* Make the sysctl path do something: IPv6 starts disabled on the new link. */
	assert_int_equal(
		sh("ip netns exec %s sysctl -qw net.ipv6.conf.net1.disable_ipv6=1", fx->ns), 0);
	struct cfg c = { .ifname = "net1", .iface_index = 1, .res = &res };
	assert_int_equal(cni_netns_run(fx->ns_fd, configure_fn, &c, &err), 0);
	if (c.r != 0)
		fail_msg("configure: %s", c.err.msg);

	_cleanup_free_ char *a4 = sh_out("ip -n %s -4 -o addr show dev net1", fx->ns);
	assert_contains(a4, "inet 10.10.0.5/24 brd 10.10.0.255");
	assert_null(strstr(a4, "10.20.0.5"));
	assert_null(strstr(a4, "10.30.0.5"));
	_cleanup_free_ char *a6 = sh_out("ip -n %s -6 -o addr show dev net1", fx->ns);
	assert_contains(a6, "inet6 fd00:10::5/64");
	assert_null(strstr(a6, "tentative")); /* DAD waited for */
	_cleanup_free_ char *link = sh_out("ip -n %s -o link show net1 2>/dev/null", fx->ns);
	assert_contains(link, ",UP");
	_cleanup_free_ char *kad =
		sh_out("ip netns exec %s sysctl -n net.ipv6.conf.net1.keep_addr_on_down", fx->ns);
	assert_contains(kad, "1");

	_cleanup_free_ char *r4 = sh_out("ip -n %s -4 route show", fx->ns);
	assert_contains(r4, "default via 10.10.0.1 dev net1 \n");
	_cleanup_free_ char *boot = sh_out("ip -n %s -4 route show proto boot", fx->ns);
	assert_contains(boot, "default via 10.10.0.1 dev net1");
	_cleanup_free_ char *t100 = sh_out("ip -n %s -4 route show table 100", fx->ns);
	assert_contains(t100, "192.168.5.0/24 via 10.10.0.254 dev net1 metric 50");
	assert_contains(t100, "mtu 1400");
	assert_contains(t100, "advmss 1360");
	_cleanup_free_ char *r6 = sh_out("ip -n %s -6 route show", fx->ns);
	assert_contains(r6, "default via fd00:10::1 dev net1");
	assert_contains(r6, "fd00:99::/48 via fd00:10::1 dev net1 metric 7");

	/* CHECK agrees with what ADD made... */
	memset(&c.err, 0, sizeof(c.err));
	assert_int_equal(cni_netns_run(fx->ns_fd, check_fn, &c, &err), 0);
	if (c.r != 0)
		fail_msg("check: %s", c.err.msg);

	/* ...and notices a missing address... */
	ipnet("10.10.0.6/24", &ips[3].address);
	ips[3].interface = 1;
	assert_int_equal(cni_netns_run(fx->ns_fd, check_fn, &c, &err), 0);
	assert_int_equal(c.r, -ENOENT);
	assert_int_equal(c.err.code, CNI_ERR_DEVICE);
	assert_string_equal(c.err.msg, "interface 'net1' lacks address '10.10.0.6/24'");

	/* ...and a missing route (wrong gateway). */
	ips[3].interface = 0;
	ipaddr("10.10.0.253", &routes[1].gw);
	assert_int_equal(cni_netns_run(fx->ns_fd, check_fn, &c, &err), 0);
	assert_int_equal(c.r, -ENOENT);
	assert_int_equal(c.err.code, CNI_ERR_DEVICE);
	assert_string_equal(c.err.msg, "route '192.168.5.7/24' via '10.10.0.253' not found");

	/* Configuring again: the addresses exist, EEXIST from the kernel. */
	ips[3].interface = -1;
	assert_int_equal(cni_netns_run(fx->ns_fd, configure_fn, &c, &err), 0);
	assert_int_equal(c.r, -EEXIST);
	assert_int_equal(c.err.code, CNI_ERR_NETLINK);
	assert_non_null(strstr(c.err.msg, "configure 'net1': add address '10.10.0.5/24'"));
}

static void test_net_iface_configure_route_without_gw_is_link_scope(void **state)
{
	NEED_ROOT();
	struct fx *fx = *state;
	struct cni_err err = { 0 };
	int ifindex = 0;
	assert_int_equal(create_macvlan(fx, "eth0", &ifindex, &err), 0);
	struct cni_iface ifs[1] = { { .name = (char *)"eth0" } };
	struct cni_ip ips[1] = { 0 };
	ipnet("10.30.0.5/30", &ips[0].address); /* no gateway at all */
	ips[0].interface = 0;
	struct cni_route routes[2] = { 0 };
	ipnet("10.40.0.0/16", &routes[0].dst);
	ipnet("10.41.0.0/16", &routes[1].dst);
	routes[1].has = CNI_ROUTE_HAS_SCOPE;
	routes[1].scope = 0; /* explicit universe */
	struct cni_result res = { .interfaces = ifs,
				  .n_interfaces = 1,
				  .ips = ips,
				  .n_ips = 1,
				  .routes = routes,
				  .n_routes = 2 };
	struct cfg c = { .ifname = "eth0", .iface_index = 0, .res = &res };
	assert_int_equal(cni_netns_run(fx->ns_fd, configure_fn, &c, &err), 0);
	if (c.r != 0)
		fail_msg("configure: %s", c.err.msg);
	_cleanup_free_ char *r4 = sh_out("ip -n %s -4 route show", fx->ns);
	assert_contains(r4, "10.40.0.0/16 dev eth0 scope link");
	assert_contains(r4, "10.41.0.0/16 dev eth0 \n");
	_cleanup_free_ char *a4 = sh_out("ip -n %s -4 -o addr show dev eth0", fx->ns);
	assert_contains(a4, "inet 10.30.0.5/30 brd 10.30.0.7");
}

static void test_net_iface_configure_bad_interface_index(void **state)
{
	NEED_ROOT();
	struct fx *fx = *state;
	struct cni_err err = { 0 };
	int ifindex = 0;
	assert_int_equal(create_macvlan(fx, "eth0", &ifindex, &err), 0);
	struct cni_iface ifs[1] = { { .name = (char *)"eth0" } };
	struct cni_ip ips[1] = { 0 };
	ipnet("10.30.0.5/24", &ips[0].address);
	ips[0].interface = 3;
	struct cni_result res = { .interfaces = ifs, .n_interfaces = 1, .ips = ips, .n_ips = 1 };
	struct cfg c = { .ifname = "eth0", .iface_index = 0, .res = &res };
	assert_int_equal(cni_netns_run(fx->ns_fd, configure_fn, &c, &err), 0);
	assert_int_equal(c.r, -EINVAL);
	assert_int_equal(c.err.code, CNI_ERR_IPAM);
	assert_non_null(strstr(c.err.msg, "'10.30.0.5/24'"));

	c.iface_index = 1; /* beyond interfaces[] */
	assert_int_equal(cni_netns_run(fx->ns_fd, configure_fn, &c, &err), 0);
	assert_int_equal(c.r, -EINVAL);

	/* A missing interface is a device error. */
	ips[0].interface = 0;
	c.iface_index = 0;
	c.ifname = "nope0";
	assert_int_equal(cni_netns_run(fx->ns_fd, configure_fn, &c, &err), 0);
	assert_int_equal(c.r, -ENODEV);
	assert_int_equal(c.err.code, CNI_ERR_DEVICE);
	assert_string_equal(c.err.msg, "link 'nope0' not found");
}

/* ---- sysctl --------------------------------------------------------------------------- */

static int sysctl_fn(void *arg, struct cni_err *err)
{
	(void)arg;
	char buf[16];
	int r = net_sysctl_set("net/ipv4/conf/lo/arp_notify", "1", err);
	if (r < 0)
		return r;
	r = net_sysctl_get("net/ipv4/conf/lo/arp_notify", buf, sizeof(buf), err);
	if (r < 0)
		return r;
	return strcmp(buf, "1") == 0 ? 0 : -1;
}

static void test_net_sysctl_roundtrip_in_netns(void **state)
{
	NEED_ROOT();
	struct fx *fx = *state;
	struct cni_err err = { 0 };
	assert_int_equal(cni_netns_run(fx->ns_fd, sysctl_fn, NULL, &err), 0);
	_cleanup_free_ char *in =
		sh_out("ip netns exec %s sysctl -n net.ipv4.conf.lo.arp_notify", fx->ns);
	assert_string_equal(in, "1\n");
}

static void test_net_sysctl_errors(void **state)
{
	(void)state;
	struct cni_err err = { 0 };
	char buf[16];
	assert_int_equal(
		net_sysctl_get("net/ipv4/conf/plx-missing/arp_notify", buf, sizeof(buf), &err),
		-ENOENT);
	assert_int_equal(err.code, CNI_ERR_IO);
	assert_int_equal(net_sysctl_set("net/ipv4/conf/../../../../etc/x", "1", &err), -EINVAL);
	assert_int_equal(err.code, CNI_ERR_IO);
	assert_int_equal(net_sysctl_get("/etc/passwd", buf, sizeof(buf), &err), -EINVAL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
	is_root = geteuid() == 0;
	if (!is_root)
		fprintf(stderr,
			"!!! test_net: NOT ROOT: the netns tests are SKIPPED; run as root !!!\n");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netns_open_missing_path),
		cmocka_unit_test(test_netns_open_regular_file_is_invalid),
		cmocka_unit_test(test_netns_open_other_ns_type_is_invalid),
		cmocka_unit_test(test_netns_is_current_own_netns),
		T(test_netns_run_enters_and_restores),
		cmocka_unit_test(test_net_sock_open_is_cloexec),
		T(test_net_link_create_in_netns_renames),
		T(test_net_link_create_in_netns_host_name_collision),
		T(test_net_link_create_in_netns_eexist),
		T(test_net_link_create_in_netns_bad_master_cleans_up),
		T(test_net_link_create_in_netns_invalid_name),
		T(test_net_link_tmp_leftover),
		cmocka_unit_test(test_net_tmp_ifname_for),
		T(test_net_link_del_missing_is_success),
		T(test_net_default_route_iface),
		T(test_net_iface_configure_v4_v6),
		T(test_net_iface_configure_route_without_gw_is_link_scope),
		T(test_net_iface_configure_bad_interface_index),
		T(test_net_sysctl_roundtrip_in_netns),
		cmocka_unit_test(test_net_sysctl_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
