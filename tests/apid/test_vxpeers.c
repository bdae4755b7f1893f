// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the VXLAN peers agent's pure half (apid/vxpeers_state.c): the annotation
 * round trip, refusal of malformed and conflicting entries, the desired tables, the diff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apid/vxpeers.h"
#include "lib/util/cleanup.h"

static struct ip_addr ip(const char *s)
{
	struct ip_addr a;
	assert_int_equal(parse_ip(s, &a), 0);
	return a;
}

static void mac(const char *s, uint8_t ret[MAC_LEN])
{
	assert_int_equal(parse_mac(s, ret), 0);
}

/* One VTEP with n pods 02:00:00:00:<n1>:<k>, addresses 10.251.<n1>.<k>. */
static void add_vtep(struct vxp_set *s, const char *node, uint32_t vni, const char *addr,
		     unsigned n1, size_t n)
{
	struct vxp_vtep *v = vxp_set_add(s, node, vni);
	v->addr = ip(addr);
	mac("0a:00:00:00:00:01", v->mac);
	for (size_t k = 1; k <= n; k++) {
		struct vxp_pod *p = vxp_vtep_add_pod(v);
		_cleanup_free_ char *m = xasprintf("02:00:00:00:%02x:%02zx", n1, k);
		_cleanup_free_ char *a = xasprintf("10.251.%u.%zu", n1, k);
		mac(m, p->mac);
		p->ips[p->n_ips++] = ip(a);
	}
}

static void test_vxpeers_roundtrip(void **state)
{
	(void)state;
	struct vxp_set local = { 0 }, back = { 0 };
	add_vtep(&local, "", 200, "10.250.0.1", 1, 2);
	add_vtep(&local, "", 100, "10.250.0.1", 2, 1);
	_cleanup_free_ char *value = vxp_encode(&local);
	/* Sorted by VNI: the same tables always give the same text (no needless PATCH). */
	assert_string_equal(value,
			    "{\"100\":{\"vtep\":\"10.250.0.1\",\"mac\":\"0a:00:00:00:00:01\","
			    "\"pods\":[{\"mac\":\"02:00:00:00:02:01\",\"ips\":[\"10.251.2.1\"]}]},"
			    "\"200\":{\"vtep\":\"10.250.0.1\",\"mac\":\"0a:00:00:00:00:01\","
			    "\"pods\":[{\"mac\":\"02:00:00:00:01:01\",\"ips\":[\"10.251.1.1\"]},"
			    "{\"mac\":\"02:00:00:00:01:02\",\"ips\":[\"10.251.1.2\"]}]}}");
	assert_int_equal(vxp_decode("node-a", value, &back), 0);
	assert_int_equal(back.n, 2);
	assert_string_equal(back.v[0].node, "node-a");
	assert_int_equal(back.v[0].vni, 100);
	assert_int_equal(back.v[1].n_pods, 2);
	assert_true(ip_addr_equal(&back.v[1].pods[1].ips[0], &local.v[0].pods[1].ips[0]));
	vxp_set_done(&local);
	vxp_set_done(&back);
}

/* Each value: how many entries are refused, how many kept. */
static void one_decode(const char *value, int refused, size_t kept)
{
	struct vxp_set s = { 0 };
	int r = vxp_decode("node-x", value, &s);
	if (r != refused || s.n != kept)
		fail_msg("'%s': %d refused, %zu kept; want %d, %zu", value, r, s.n, refused, kept);
	vxp_set_done(&s);
}

static void test_vxpeers_decode_refuses(void **state)
{
	(void)state;
	const char *ok = "{\"vtep\":\"10.250.0.2\",\"mac\":\"0a:00:00:00:00:02\",\"pods\":[]}";
	_cleanup_free_ char *good = xasprintf("{\"7\":%s}", ok);
	one_decode(good, 0, 1);
	one_decode("not json", 1, 0);
	one_decode("[1]", 1, 0);
	/* VTEP addresses that would point traffic at this host, a group or nowhere. */
	const char *bad_vtep[] = { "127.0.0.1", "0.0.0.0", "224.0.0.5", "255.255.255.255", "::1",
				   "::",	"ff02::1", "fe80::1",	"not-an-address" };
	for (size_t i = 0; i < sizeof(bad_vtep) / sizeof(*bad_vtep); i++) {
		_cleanup_free_ char *v =
			xasprintf("{\"7\":%s,\"8\":{\"vtep\":\"%s\",\"mac\":\"0a:00:00:00:00:02\","
				  "\"pods\":[]}}",
				  ok, bad_vtep[i]);
		one_decode(v, 1, 1);
	}
	/* Multicast and zero MACs, for the VTEP and for a pod. */
	one_decode("{\"7\":{\"vtep\":\"10.250.0.2\",\"mac\":\"01:00:5e:00:00:01\",\"pods\":[]}}", 1,
		   0);
	one_decode("{\"7\":{\"vtep\":\"10.250.0.2\",\"mac\":\"0a:00:00:00:00:02\",\"pods\":"
		   "[{\"mac\":\"00:00:00:00:00:00\",\"ips\":[]}]}}",
		   1, 0);
	one_decode("{\"7\":{\"vtep\":\"10.250.0.2\",\"mac\":\"0a:00:00:00:00:02\",\"pods\":"
		   "[{\"mac\":\"02:00:00:00:00:01\",\"ips\":[\"224.1.1.1\"]}]}}",
		   1, 0);
	/* VNI keys: 0, out of range, not a number. */
	_cleanup_free_ char *vnis =
		xasprintf("{\"0\":%s,\"16777216\":%s,\"x\":%s,\"16777215\":%s}", ok, ok, ok, ok);
	one_decode(vnis, 3, 1);
	/* Too many addresses on one pod. */
	one_decode(
		"{\"7\":{\"vtep\":\"10.250.0.2\",\"mac\":\"0a:00:00:00:00:02\",\"pods\":"
		"[{\"mac\":\"02:00:00:00:00:01\",\"ips\":[\"10.0.0.1\",\"10.0.0.2\",\"10.0.0.3\","
		"\"10.0.0.4\",\"10.0.0.5\"]}]}}",
		1, 0);
}

static void test_vxpeers_conflicts(void **state)
{
	(void)state;
	struct vxp_set remote = { 0 }, local = { 0 };
	add_vtep(&local, "", 100, "10.250.0.1", 1, 1);
	/* b and c claim one VTEP address; d claims this node's. */
	add_vtep(&remote, "b", 100, "10.250.0.9", 2, 1);
	add_vtep(&remote, "c", 100, "10.250.0.9", 3, 1);
	add_vtep(&remote, "d", 100, "10.250.0.1", 4, 1);
	/* e is fine, but its second pod reuses the local pod's MAC and IP. */
	add_vtep(&remote, "e", 100, "10.250.0.5", 5, 2);
	mac("02:00:00:00:01:01", remote.v[3].pods[1].mac);
	/* The same node on two VNIs with one address is no conflict. */
	add_vtep(&remote, "e", 200, "10.250.0.5", 6, 1);
	size_t n = vxp_conflicts(&remote, &local);
	assert_int_equal(n, 4);
	assert_true(remote.v[0].refused && remote.v[1].refused && remote.v[2].refused);
	assert_false(remote.v[3].refused);
	assert_false(remote.v[3].pods[0].refused);
	assert_true(remote.v[3].pods[1].refused);
	assert_false(remote.v[4].refused);

	_cleanup_free_ struct net_fdb_entry *fdb = NULL;
	_cleanup_free_ struct net_neigh_entry *nb = NULL;
	size_t nf = 0, nn = 0;
	vxp_desired(&remote, 100, AF_INET, &fdb, &nf, &nb, &nn);
	/* e only: its flood entry and its one accepted pod. */
	assert_int_equal(nf, 2);
	assert_int_equal(nn, 1);
	uint8_t zero[MAC_LEN] = { 0 };
	assert_memory_equal(fdb[0].mac, zero, MAC_LEN);
	assert_true(ip_addr_equal(&fdb[0].dst, &remote.v[3].addr));
	assert_memory_equal(fdb[1].mac, remote.v[3].pods[0].mac, MAC_LEN);
	assert_true(ip_addr_equal(&nb[0].ip, &remote.v[3].pods[0].ips[0]));
	vxp_set_done(&remote);
	vxp_set_done(&local);
}

static void test_vxpeers_desired_family_and_empty(void **state)
{
	(void)state;
	struct vxp_set remote = { 0 };
	add_vtep(&remote, "b", 100, "fd00:250::2", 2, 1);
	add_vtep(&remote, "c", 100, "10.250.0.3", 3, 0);
	_cleanup_free_ struct net_fdb_entry *fdb = NULL;
	_cleanup_free_ struct net_neigh_entry *nb = NULL;
	size_t nf = 9, nn = 9;
	/* No pod anywhere: nothing to sort, nothing refused (the fuzzer found qsort(NULL, 0)). */
	struct vxp_set none = { 0 }, empty = { 0 };
	add_vtep(&none, "d", 100, "10.250.0.4", 4, 0);
	assert_int_equal(vxp_conflicts(&none, &empty), 0);
	vxp_set_done(&none);
	/* An IPv4 VTEP cannot reach b; c has no pods, so it needs no flood entry. */
	vxp_desired(&remote, 100, AF_INET, &fdb, &nf, &nb, &nn);
	assert_int_equal(nf, 0);
	assert_int_equal(nn, 0);
	vxp_set_done(&remote);
}

static void test_vxpeers_diff(void **state)
{
	(void)state;
	struct net_fdb_entry have[3] = { { .dst = ip("10.0.0.1") },
					 { .dst = ip("10.0.0.2") },
					 { .dst = ip("10.0.0.1") } };
	mac("02:00:00:00:00:01", have[2].mac);
	struct net_fdb_entry want[2] = { { .dst = ip("10.0.0.1") }, { .dst = ip("10.0.0.3") } };
	/* The pod moved to another VTEP. */
	mac("02:00:00:00:00:01", want[1].mac);
	_cleanup_free_ size_t *add = NULL, *del = NULL;
	size_t na = 0, nd = 0;
	vxp_diff_fdb(have, 3, want, 2, &add, &na, &del, &nd);
	assert_int_equal(na, 1);
	assert_int_equal(add[0], 1);
	assert_int_equal(nd, 2);
	assert_int_equal(del[0], 1);
	assert_int_equal(del[1], 2);

	struct net_neigh_entry nh[1] = { { .ip = ip("10.251.0.5") } };
	struct net_neigh_entry nw[1] = { { .ip = ip("10.251.0.5") } };
	mac("02:00:00:00:00:05", nh[0].mac);
	mac("02:00:00:00:00:06", nw[0].mac);
	_cleanup_free_ size_t *nadd = NULL, *ndel = NULL;
	vxp_diff_neigh(nh, 1, nw, 1, &nadd, &na, &ndel, &nd);
	assert_int_equal(na, 1);
	assert_int_equal(nd, 1);
	/* Converged: nothing to do. */
	_cleanup_free_ size_t *a2 = NULL, *d2 = NULL;
	vxp_diff_neigh(nw, 1, nw, 1, &a2, &na, &d2, &nd);
	assert_int_equal(na + nd, 0);
}

/* Drop what earlier tests queued: two rounds forget their refusals. */
static void refusals_reset(void)
{
	struct vxp_refusal r[VXP_REFUSALS_MAX];
	size_t dropped = 0, n = vxp_refusals_take(r, VXP_REFUSALS_MAX, &dropped);
	for (size_t i = 0; i < n; i++)
		vxp_refusal_done(&r[i]);
	vxp_log_round();
	vxp_log_round();
}

/* A refusal is queued for an Event once, as it first appears: per node and VNI, each remote
 * node of a conflict; never this node; the queue is bounded. */
static void test_vxpeers_refusal_events(void **state)
{
	(void)state;
	refusals_reset();
	struct vxp_refusal r[VXP_REFUSALS_MAX];
	size_t dropped = 9;
	for (int round = 0; round < 2; round++) {
		struct vxp_set remote = { 0 }, local = { 0 };
		assert_int_equal(vxp_decode("bad",
					    "{\"7\":{\"vtep\":\"127.0.0.1\",\"mac\":"
					    "\"0a:00:00:00:00:01\",\"pods\":[]}}",
					    &remote),
				 1);
		add_vtep(&remote, "dupa", 100, "10.250.0.7", 1, 0);
		add_vtep(&remote, "dupb", 100, "10.250.0.7", 2, 0);
		add_vtep(&remote, "peer", 100, "10.250.0.9", 3, 1);
		add_vtep(&local, "", 100, "10.250.0.1", 3, 1); /* this node claims peer's pod */
		assert_int_equal(vxp_conflicts(&remote, &local), 3);
		vxp_log_round();
		size_t n = vxp_refusals_take(r, VXP_REFUSALS_MAX, &dropped);
		assert_int_equal(dropped, 0);
		if (round == 1) {
			/* Still refused, already reported. */
			assert_int_equal(n, 0);
		} else {
			assert_int_equal(n, 5);
			assert_string_equal(r[0].node, "bad");
			assert_int_equal(r[0].vni, 7);
			assert_non_null(strstr(r[0].msg, "7.vtep: not a unicast address"));
			/* The VTEP conflict: one Event about each of its two nodes. */
			assert_string_equal(r[1].node, "dupa");
			assert_string_equal(r[2].node, "dupb");
			assert_int_equal(r[2].vni, 100);
			assert_string_equal(r[1].msg, r[2].msg);
			/* The pod conflict with this node: about the remote node only (MAC, IP). */
			assert_string_equal(r[3].node, "peer");
			assert_string_equal(r[4].node, "peer");
			assert_non_null(strstr(r[3].msg, "(this node)"));
		}
		for (size_t i = 0; i < n; i++)
			vxp_refusal_done(&r[i]);
		vxp_set_done(&remote);
		vxp_set_done(&local);
	}
	/* 100 bad nodes at once: the queue keeps VXP_REFUSALS_MAX, the rest are counted. */
	struct vxp_set remote = { 0 };
	for (int i = 0; i < 100; i++) {
		_cleanup_free_ char *node = xasprintf("bad%d", i);
		assert_int_equal(vxp_decode(node, "[]", &remote), 1);
	}
	vxp_log_round();
	assert_int_equal(vxp_refusals_take(r, 10, &dropped), 10);
	assert_int_equal(dropped, 100 - VXP_REFUSALS_MAX);
	for (size_t i = 0; i < 10; i++)
		vxp_refusal_done(&r[i]);
	refusals_reset();
	vxp_set_done(&remote);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vxpeers_roundtrip),
		cmocka_unit_test(test_vxpeers_decode_refuses),
		cmocka_unit_test(test_vxpeers_conflicts),
		cmocka_unit_test(test_vxpeers_desired_family_and_empty),
		cmocka_unit_test(test_vxpeers_diff),
		cmocka_unit_test(test_vxpeers_refusal_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
