// SPDX-License-Identifier: Apache-2.0
/* The meta-plugin's attachment and pool reports to plexus-apid (lib/metrics/report.h): after
 * the fact, fire-and-forget, so an ADD costs the same whether anyone listens or not. */
#include <errno.h>
#include <libgen.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "hostlocal/hostlocal.h"
#include "lib/json/json.h"
#include "lib/metrics/report.h"
#include "lib/util/cleanup.h"
#include "lib/util/clock.h"
#include "lib/util/log.h"
#include "meta/internal.h"

void meta_report_op(struct attachment *a, int64_t t0_us, int r, const struct cni_err *err)
{
	a->op_done = true;
	a->op_us = clock_now_us() - t0_us;
	/* A failure without a code still counts as one. */
	a->op_code = r >= 0 ? 0 : err->code > 0 ? err->code : REPORT_CODE_MAX;
}

/* The type of the attachment's first delegate: the plugin label. */
static const char *plugin_type(const struct attachment *a)
{
	const cJSON *first = cJSON_IsArray(a->list.plugins) ? cJSON_GetArrayItem(a->list.plugins, 0)
							    : a->list.plugins;
	const char *type = cJSON_GetStringValue(json_get(first, "type"));
	return type ? type : "unknown";
}

/* Send the datagram buf to metrics.sock beside the relay socket; false when it was lost. */
static bool send_dgram(const char *relay, const char *buf)
{
	_cleanup_free_ char *dir = xstrdup(relay);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int w = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/metrics.sock", dirname(dir));
	if (w < 0 || (size_t)w >= sizeof(sa.sun_path))
		return false;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* No socket (apid down) or a full queue: the report is lost, by design. */
	if (fd < 0 || sendto(fd, buf, strlen(buf), MSG_DONTWAIT | MSG_NOSIGNAL,
			     (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_debug("report to '%s' lost: %s", sa.sun_path, strerror(errno));
		return false;
	}
	return true;
}

/* One line of the pool datagram being built: the attachment it came from. */
struct pool_line {
	const char *network, *plugin; /* borrowed from the plan */
	char range[IPNET_STR_LEN];
	size_t att;
	double addresses, allocated;
};

/* Add the host-local pools of attachment i (every plugin of its list whose IPAM is host-local,
 * wherever it runs: the store is the same) to lines; a network attached twice counts once. */
static void att_pools(const struct plan *p, size_t i, struct pool_line **lines, size_t *n)
{
	const struct attachment *a = &p->att[i];
	for (int k = 0; k < a->list.n_plugins; k++) {
		const cJSON *conf = cJSON_IsArray(a->list.plugins)
					    ? cJSON_GetArrayItem(a->list.plugins, k)
					    : a->list.plugins;
		const cJSON *ipam = json_get(conf, "ipam");
		const char *type = cJSON_GetStringValue(json_get(ipam, "type"));
		if (!type || (strcmp(type, "host-local") && strcmp(type, "plexus-host-local") &&
			      strcmp(type, "plexus-hostlocal")))
			continue;
		_cleanup_free_ struct hl_pool *pools = NULL;
		size_t np = 0;
		struct cni_err e = { 0 };
		if (hl_pool_usage(a->list.name, ipam, &pools, &np, &e) < 0) {
			log_debug("pool usage of '%s': %s", a->name, e.msg);
			continue;
		}
		for (size_t j = 0; j < np; j++) {
			char range[IPNET_STR_LEN];
			format_ipnet(&pools[j].subnet, range);
			struct pool_line *l = NULL;
			for (size_t m = 0; m < *n && !l; m++)
				if (!strcmp((*lines)[m].network, a->name) &&
				    !strcmp((*lines)[m].range, range))
					l = &(*lines)[m];
			if (l && l->att != i)
				continue;
			if (!l) {
				*lines = xrealloc(*lines, (*n + 1) * sizeof(**lines));
				l = &(*lines)[(*n)++];
				*l = (struct pool_line){ .network = a->name,
							 .plugin = plugin_type(a),
							 .att = i };
				strcpy(l->range, range);
			}
			/* Ranges of one subnet are one pool. */
			l->addresses += pools[j].addresses;
			l->allocated += pools[j].allocated;
		}
	}
}

/* The pools of the attachments the verb ran, after it: one pool datagram. */
static void send_pools(const struct plan *p)
{
	_cleanup_free_ struct pool_line *lines = NULL;
	size_t n = 0;
	for (size_t i = 0; i < p->n_att; i++)
		if (p->att[i].op_done)
			att_pools(p, i, &lines, &n);
	_cleanup_free_ char *buf = xmalloc(REPORT_DGRAM_MAX);
	report_pool_begin(buf);
	size_t sent = 0;
	/* A line whose label values are not valid (a cluster network's odd name) is left out. */
	for (size_t i = 0; i < n; i++)
		sent += report_pool_append(buf, lines[i].network, lines[i].plugin, "host-local",
					   lines[i].range, lines[i].addresses, lines[i].allocated);
	if (sent > 0)
		(void)send_dgram(p->conf.api_relay, buf);
}

void meta_report_send(const struct plan *p, const char *verb)
{
	const char *relay = p->conf.api_relay;
	if (!relay || !*relay)
		return;
	_cleanup_free_ char *buf = xmalloc(REPORT_DGRAM_MAX);
	report_begin(buf, verb);
	size_t n = 0;
	for (size_t i = 0; i < p->n_att; i++) {
		const struct attachment *a = &p->att[i];
		if (a->op_done && report_append(buf, a->name, plugin_type(a), a->op_us, a->op_code))
			n++;
	}
	if (n == 0)
		return;
	/* CHECK changes no lease; with nobody listening, the stores are not even read. */
	if (send_dgram(relay, buf) && strcmp(verb, "CHECK") != 0)
		send_pools(p);
}
