// SPDX-License-Identifier: Apache-2.0
/* libFuzzer harness: the whereabouts parsers. First byte 0 mod 3: the rest is a netconf for
 * wb_conf_parse (flat files looked up under a root that does not exist); 1: an IPPool body for
 * wb_pool_decode of 10.0.0.0/24, then the first free address and a set/unset round; 2: an
 * OverlappingRangeIPReservation body; first byte 0xff: a NodeSlicePool body for slices of /26
 * of 10.0.0.0/24. Invariants abort. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cni/args.h"
#include "lib/cni/skel.h"
#include "lib/util/cleanup.h"
#include "whereabouts/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void conf(const char *text, size_t size)
{
	struct cni_env env = { .cmd = CNI_CMD_ADD,
			       .container_id = (char *)"c1",
			       .ifname = (char *)"net1",
			       .path = (char *)"/nonexistent",
			       .args = (char *)"K8S_POD_NAMESPACE=a;K8S_POD_NAME=b" };
	struct cni_ctx ctx;
	struct cni_err err = { 0 };
	if (cni_ctx_init(&ctx, &env, text, size, &whereabouts_plugin, &err) == 0) {
		struct wb_conf c;
		if (wb_conf_parse(&ctx, "/nonexistent-fuzz-root", &c, &err) == 0) {
			for (size_t i = 0; i < c.n_ranges; i++) {
				struct ip_addr ip;
				char name[WB_NAME_MAX];
				if (wb_range_first_free(&c.ranges[i], NULL, NULL, 0, &ip) == 1 &&
				    ip.family != c.ranges[i].net.ip.family)
					abort();
				(void)wb_pool_name(&c.ranges[i], c.network_name, name);
			}
			wb_conf_done(&c);
		}
	}
	cni_ctx_done(&ctx);
}

/* The conf of 10.0.0.0/24 with the ipam members extra; a failure aborts. */
static void fixed_conf(const char *extra, struct cni_ctx *ctx, struct wb_conf *c)
{
	_cleanup_free_ char *netconf =
		xasprintf("{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"ipam\":{\"type\":"
			  "\"whereabouts\",\"range\":\"10.0.0.0/24\"%s}}",
			  extra);
	struct cni_env env = { .cmd = CNI_CMD_ADD,
			       .container_id = (char *)"c1",
			       .ifname = (char *)"net1",
			       .path = (char *)"/nonexistent" };
	struct cni_err err = { 0 };
	if (cni_ctx_init(ctx, &env, netconf, strlen(netconf), &whereabouts_plugin, &err) < 0 ||
	    wb_conf_parse(ctx, "/nonexistent-fuzz-root", c, &err) < 0)
		abort();
}

static void pool(const char *text, size_t size)
{
	struct cni_ctx ctx;
	struct cni_err err = { 0 };
	struct wb_conf c;
	fixed_conf("", &ctx, &c);
	struct wb_pool p;
	if (wb_pool_decode(text, size, &c.ranges[0], &p, &err) == 0) {
		for (size_t i = 1; i < p.n; i++)
			if (p.allocs[i - 1].offset > p.allocs[i].offset)
				abort();
		struct ip_addr ip;
		if (wb_range_first_free(&c.ranges[0], &p, NULL, 0, &ip) == 1) {
			uint64_t off;
			if (wb_ip_offset(&c.ranges[0].net.ip, &ip, &off) < 0 ||
			    wb_pool_taken(&p, off))
				abort(); /* never a held address */
			wb_pool_set(&p, off, "c1", "a/b", "net1");
			wb_pool_unset(&p, off);
		}
		(void)wb_pool_find(&p, "c1", NULL, "net1");
		wb_pool_done(&p);
	}
	wb_conf_done(&c);
	cni_ctx_done(&ctx);
}

/* The node's slices of a NodeSlicePool body: each a distinct /26 of 10.0.0.0/24. */
static void slices(const char *text, size_t size)
{
	struct cni_ctx ctx;
	struct cni_err err = { 0 };
	struct wb_conf c;
	fixed_conf(",\"node_slice_size\":\"/26\"", &ctx, &c);
	cJSON *o = cJSON_ParseWithLength(text, size);
	struct wb_slices s = { 0 };
	if (o && wb_slices_decode(o, &c, "n", "node-a", &s, &err) == 0) {
		for (size_t i = 0; i < s.n; i++) {
			struct wb_range sub;
			if (s.nets[i].prefix != 26 ||
			    wb_range_sub(&c.ranges[0], &s.nets[i], &sub) < 0)
				abort();
			wb_range_done(&sub);
			for (size_t j = 0; j < i; j++)
				if (ip_addr_equal(&s.nets[i].ip, &s.nets[j].ip))
					abort(); /* a slice twice */
		}
		wb_slices_done(&s);
	}
	cJSON_Delete(o);
	wb_conf_done(&c);
	cni_ctx_done(&ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] == 0xff) {
		slices(text, size - 1);
		free(text);
		return 0;
	}
	switch (data[0] % 3) {
	case 0:
		conf(text, size - 1);
		break;
	case 1:
		pool(text, size - 1);
		break;
	default: {
		cJSON *o = NULL;
		const char *id, *ref, *ifn;
		struct cni_err err = { 0 };
		if (wb_orip_decode(text, size - 1, &o, &id, &ref, &ifn, &err) == 0) {
			if (!id || !ref || !ifn)
				abort();
			cJSON_Delete(o);
		}
		break;
	}
	}
	free(text);
	return 0;
}
