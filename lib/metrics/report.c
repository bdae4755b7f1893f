// SPDX-License-Identifier: Apache-2.0
/* Attachment reports: the datagram's encoder (meta-plugin) and its strict parser (apid). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
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

bool report_append(char *buf, const char *network, const char *plugin, int64_t duration_us,
		   int code)
{
	size_t used = strlen(buf), n_lines = 0;
	for (const char *c = buf; *c; c++)
		n_lines += *c == '\n';
	if (n_lines > REPORT_ENTRIES_MAX)
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
