// SPDX-License-Identifier: Apache-2.0
/* Attachment and pool reports: the datagrams' encoders (meta-plugin) and strict parsers (apid). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metrics/report.h"
#include "lib/util/parse.h"

static const char *const verbs[] = { "ADD", "DEL", "CHECK", "GC" };

bool report_label_ok(const char *s, bool plugin)
{
	size_t n = strlen(s), max = plugin ? REPORT_PLUGIN_MAX : REPORT_NETWORK_MAX;
	if (n == 0 || n > max)
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-' ||
		      (*c == '/' && !plugin)))
			return false;
	return true;
}

/* The next space- or newline-ended field of the line at *s (copied to out, at most max
 * bytes); *s moves past the separator, which must be sep. */
static bool field(const char **s, const char *end, char sep, char *out, size_t max)
{
	const char *p = *s;
	while (p < end && *p != ' ' && *p != '\n')
		p++;
	/* A NUL inside would hide the rest of the field from the label check. */
	if (p == end || *p != sep || p == *s || (size_t)(p - *s) > max ||
	    memchr(*s, '\0', (size_t)(p - *s)))
		return false;
	memcpy(out, *s, (size_t)(p - *s));
	out[p - *s] = '\0';
	*s = p + 1;
	return true;
}

int report_parse(const char *buf, size_t len, struct report *ret, struct cni_err *err)
{
	if (len > REPORT_DGRAM_MAX)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "report: larger than %d bytes",
				   REPORT_DGRAM_MAX);
	const char *s = buf, *end = buf + len;
	char word[32], verb[8];
	if (!field(&s, end, ' ', word, sizeof(word) - 1) || strcmp(word, "plexus-report") != 0 ||
	    !field(&s, end, ' ', word, sizeof(word) - 1) || strcmp(word, "1") != 0)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
				   "report: not a 'plexus-report 1' header");
	ret->verb = NULL;
	if (field(&s, end, '\n', verb, sizeof(verb) - 1))
		for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
			if (strcmp(verb, verbs[i]) == 0)
				ret->verb = verbs[i];
	if (!ret->verb)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
				   "report: verb is not ADD, DEL, CHECK or GC");
	ret->n = 0;
	while (s < end) {
		if (ret->n == REPORT_ENTRIES_MAX)
			return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
					   "report: more than %d entries", REPORT_ENTRIES_MAX);
		struct report_entry *e = &ret->e[ret->n];
		char dur[24], code[8];
		int64_t v;
		if (!field(&s, end, ' ', e->network, REPORT_NETWORK_MAX) ||
		    !report_label_ok(e->network, false))
			return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
					   "report: entry %zu: bad network", ret->n);
		if (!field(&s, end, ' ', e->plugin, REPORT_PLUGIN_MAX) ||
		    !report_label_ok(e->plugin, true))
			return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
					   "report: entry %zu: bad plugin", ret->n);
		if (!field(&s, end, ' ', dur, sizeof(dur) - 1) ||
		    parse_i64(dur, 0, REPORT_DURATION_MAX_US, &e->duration_us) < 0)
			return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
					   "report: entry %zu: bad duration", ret->n);
		if (!field(&s, end, '\n', code, sizeof(code) - 1) ||
		    parse_i64(code, 0, REPORT_CODE_MAX, &v) < 0)
			return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
					   "report: entry %zu: bad code", ret->n);
		e->code = (int)v;
		ret->n++;
	}
	if (ret->n == 0)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "report: no entries");
	return 0;
}

void report_begin(char *buf, const char *verb)
{
	snprintf(buf, REPORT_DGRAM_MAX, "plexus-report 1 %s\n", verb);
}

/* Whether buf already holds the header and REPORT_ENTRIES_MAX lines. */
static bool full(const char *buf)
{
	size_t n_lines = 0;
	for (const char *c = buf; *c; c++)
		n_lines += *c == '\n';
	return n_lines > REPORT_ENTRIES_MAX;
}

bool report_append(char *buf, const char *network, const char *plugin, int64_t duration_us,
		   int code)
{
	size_t used = strlen(buf);
	if (full(buf))
		return false;
	if (duration_us < 0)
		duration_us = 0;
	if (duration_us > REPORT_DURATION_MAX_US)
		duration_us = REPORT_DURATION_MAX_US;
	if (code < 0 || code > REPORT_CODE_MAX)
		code = REPORT_CODE_MAX;
	int w = snprintf(buf + used, REPORT_DGRAM_MAX - used, "%s %s %lld %d\n",
			 report_label_ok(network, false) ? network : "invalid",
			 report_label_ok(plugin, true) ? plugin : "invalid", (long long)duration_us,
			 code);
	if (w < 0 || (size_t)w >= REPORT_DGRAM_MAX - used) {
		buf[used] = '\0';
		return false;
	}
	return true;
}

#define POOL_HEADER "plexus-pool 1\n"

bool report_is_pool(const char *buf, size_t len)
{
	return len >= strlen("plexus-pool ") &&
	       !memcmp(buf, "plexus-pool ", strlen("plexus-pool "));
}

/* s is a canonical CIDR: it parses and formats back to itself. */
static bool range_ok(const char *s)
{
	struct ip_net n;
	char back[IPNET_STR_LEN];
	if (parse_ipnet(s, &n) < 0)
		return false;
	format_ipnet(&n, back);
	return !strcmp(back, s);
}

static bool count_ok(double v)
{
	return isfinite(v) && v >= 0 && v < 1e39 && v == floor(v);
}

/* A count: 1 to REPORT_COUNT_DIGITS decimal digits, no leading zero, below 10^39 (also once
 * rounded to a double, so that it encodes again). */
static bool count_parse(const char *s, double *ret)
{
	size_t n = strspn(s, "0123456789");
	if (n == 0 || s[n] || n > REPORT_COUNT_DIGITS || (n > 1 && s[0] == '0'))
		return false;
	*ret = strtod(s, NULL);
	return count_ok(*ret);
}

int report_pool_parse(const char *buf, size_t len, struct report_pools *ret, struct cni_err *err)
{
	if (len > REPORT_DGRAM_MAX)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "pool report: larger than %d bytes",
				   REPORT_DGRAM_MAX);
	size_t hl = strlen(POOL_HEADER);
	if (len < hl || memcmp(buf, POOL_HEADER, hl) != 0)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
				   "pool report: not a 'plexus-pool 1' header");
	const char *s = buf + hl, *end = buf + len;
	ret->n = 0;
	while (s < end) {
		if (ret->n == REPORT_ENTRIES_MAX)
			return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
					   "pool report: more than %d entries", REPORT_ENTRIES_MAX);
		struct report_pool *p = &ret->p[ret->n];
		char a[REPORT_COUNT_DIGITS + 1], l[REPORT_COUNT_DIGITS + 1];
		const char *bad = NULL;
		if (!field(&s, end, ' ', p->network, REPORT_NETWORK_MAX) ||
		    !report_label_ok(p->network, false))
			bad = "network";
		else if (!field(&s, end, ' ', p->plugin, REPORT_PLUGIN_MAX) ||
			 !report_label_ok(p->plugin, true))
			bad = "plugin";
		else if (!field(&s, end, ' ', p->ipam, REPORT_PLUGIN_MAX) ||
			 !report_label_ok(p->ipam, true))
			bad = "ipam";
		else if (!field(&s, end, ' ', p->range, REPORT_RANGE_MAX) || !range_ok(p->range))
			bad = "range";
		else if (!field(&s, end, ' ', a, REPORT_COUNT_DIGITS) ||
			 !count_parse(a, &p->addresses))
			bad = "addresses";
		else if (!field(&s, end, '\n', l, REPORT_COUNT_DIGITS) ||
			 !count_parse(l, &p->allocated) || p->allocated > p->addresses)
			bad = "allocated";
		if (bad)
			return cni_err_set(err, CNI_ERR_DECODE, EINVAL,
					   "pool report: entry %zu: bad %s", ret->n, bad);
		ret->n++;
	}
	if (ret->n == 0)
		return cni_err_set(err, CNI_ERR_DECODE, EINVAL, "pool report: no entries");
	return 0;
}

void report_pool_begin(char *buf)
{
	snprintf(buf, REPORT_DGRAM_MAX, "%s", POOL_HEADER);
}

bool report_pool_append(char *buf, const char *network, const char *plugin, const char *ipam,
			const char *range, double addresses, double allocated)
{
	size_t used = strlen(buf);
	if (full(buf) || !report_label_ok(network, false) || !report_label_ok(plugin, true) ||
	    !report_label_ok(ipam, true) || !range_ok(range) || !count_ok(addresses) ||
	    !count_ok(allocated) || allocated > addresses)
		return false;
	int w = snprintf(buf + used, REPORT_DGRAM_MAX - used, "%s %s %s %s %.0f %.0f\n", network,
			 plugin, ipam, range, addresses, allocated);
	if (w < 0 || (size_t)w >= REPORT_DGRAM_MAX - used) {
		buf[used] = '\0';
		return false;
	}
	return true;
}
