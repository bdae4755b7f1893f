// SPDX-License-Identifier: Apache-2.0
/* The metrics registry and its Prometheus text exposition (format 0.0.4). */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metrics/metrics.h"
#include "lib/util/cleanup.h"

struct series {
	char **values; /* one per label name, owned */
	double value;  /* counter, gauge; histogram: the sum */
	uint64_t count;
	uint64_t *buckets; /* histogram: observations per bucket (not cumulative) */
};

struct metrics_family {
	struct metrics *m;
	enum metrics_type type;
	const char *name, *help;
	const char *const *labels;
	size_t n_labels;
	const double *bounds;
	size_t n_bounds;
	struct series *series;
	size_t n_series;
};

struct metrics {
	pthread_mutex_t lock;
	struct metrics_family **fams;
	size_t n_fams;
};

struct metrics *metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	(void)pthread_mutex_init(&m->lock, NULL);
	return m;
}

static void series_done(const struct metrics_family *f, struct series *s)
{
	for (size_t i = 0; i < f->n_labels; i++)
		free(s->values[i]);
	free(s->values);
	free(s->buckets);
}

void metrics_clear(struct metrics_family *f)
{
	if (!f)
		return;
	(void)pthread_mutex_lock(&f->m->lock);
	for (size_t i = 0; i < f->n_series; i++)
		series_done(f, &f->series[i]);
	free(f->series);
	f->series = NULL;
	f->n_series = 0;
	(void)pthread_mutex_unlock(&f->m->lock);
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_fams; i++) {
		metrics_clear(m->fams[i]);
		free(m->fams[i]);
	}
	free(m->fams);
	(void)pthread_mutex_destroy(&m->lock);
	free(m);
}

struct metrics_family *metrics_family(struct metrics *m, enum metrics_type type, const char *name,
				      const char *help, const char *const *labels,
				      const double *buckets, size_t n_buckets)
{
	struct metrics_family *f = xcalloc(1, sizeof(*f));
	*f = (struct metrics_family){ .m = m,
				      .type = type,
				      .name = name,
				      .help = help,
				      .labels = labels,
				      .bounds = type == METRICS_HISTOGRAM ? buckets : NULL,
				      .n_bounds = type == METRICS_HISTOGRAM ? n_buckets : 0 };
	while (labels && labels[f->n_labels])
		f->n_labels++;
	(void)pthread_mutex_lock(&m->lock);
	m->fams = xrealloc(m->fams, (m->n_fams + 1) * sizeof(*m->fams));
	m->fams[m->n_fams++] = f;
	(void)pthread_mutex_unlock(&m->lock);
	return f;
}

/* The series for the label values in ap, created when new. Called with the lock held. */
static struct series *series_get(struct metrics_family *f, va_list ap)
{
	_cleanup_free_ const char **vals = xcalloc(f->n_labels + 1, sizeof(*vals));
	size_t n = f->n_labels;
	for (size_t i = 0; i < n; i++) {
		vals[i] = va_arg(ap, const char *);
		if (!vals[i])
			vals[i] = "";
	}
	for (size_t i = 0; i < f->n_series; i++) {
		size_t k = 0;
		while (k < n && !strcmp(f->series[i].values[k], vals[k]))
			k++;
		if (k == n)
			return &f->series[i];
	}
	f->series = xrealloc(f->series, (f->n_series + 1) * sizeof(*f->series));
	struct series *s = &f->series[f->n_series++];
	*s = (struct series){ .values = xcalloc(f->n_labels + 1, sizeof(*s->values)) };
	for (size_t i = 0; i < f->n_labels; i++)
		s->values[i] = xstrdup(vals[i]);
	if (f->type == METRICS_HISTOGRAM)
		s->buckets = xcalloc(f->n_bounds + 1, sizeof(*s->buckets));
	return s;
}

enum op {
	OP_ADD,
	OP_SET,
	OP_OBSERVE
};

static void update(struct metrics_family *f, enum op op, double v, va_list ap)
{
	if (!f)
		return;
	(void)pthread_mutex_lock(&f->m->lock);
	struct series *s = series_get(f, ap);
	if (op == OP_OBSERVE && f->type == METRICS_HISTOGRAM) {
		size_t b = 0;
		while (b < f->n_bounds && v > f->bounds[b])
			b++;
		s->buckets[b]++;
		s->count++;
		s->value += v;
	} else if (op == OP_SET && f->type == METRICS_GAUGE) {
		s->value = v;
	} else if (op == OP_ADD && f->type != METRICS_HISTOGRAM &&
		   (f->type == METRICS_GAUGE || v >= 0)) {
		s->value += v;
	}
	(void)pthread_mutex_unlock(&f->m->lock);
}

void metrics_add(struct metrics_family *f, double v, ...)
{
	va_list ap;
	va_start(ap, v);
	update(f, OP_ADD, v, ap);
	va_end(ap);
}

void metrics_set(struct metrics_family *f, double v, ...)
{
	va_list ap;
	va_start(ap, v);
	update(f, OP_SET, v, ap);
	va_end(ap);
}

void metrics_observe(struct metrics_family *f, double v, ...)
{
	va_list ap;
	va_start(ap, v);
	update(f, OP_OBSERVE, v, ap);
	va_end(ap);
}

/* A growing output buffer. */
struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* s escaped as the format asks: backslash and newline always, '"' in label values. */
static void put_escaped(struct buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			puts_(b, "\\\\");
		else if (*s == '\n')
			puts_(b, "\\n");
		else if (*s == '"' && quote)
			puts_(b, "\\\"");
		else
			put(b, s, 1);
	}
}

/* A sample value: integers exactly, else the shortest form that reads back the same. */
static void put_number(struct buf *b, double v)
{
	char num[40];
	if (isnan(v))
		snprintf(num, sizeof(num), "NaN");
	else if (isinf(v))
		snprintf(num, sizeof(num), v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		snprintf(num, sizeof(num), "%.0f", v);
	else {
		snprintf(num, sizeof(num), "%.15g", v);
		if (strtod(num, NULL) != v)
			snprintf(num, sizeof(num), "%.17g", v);
	}
	puts_(b, num);
}

/* name{l1="v1",...,extra} value\n; extra (already formatted, may be NULL) comes last. */
static void put_sample(struct buf *b, const struct metrics_family *f, const char *suffix,
		       const struct series *s, const char *extra, double v)
{
	puts_(b, f->name);
	puts_(b, suffix);
	if (f->n_labels || extra) {
		puts_(b, "{");
		for (size_t i = 0; i < f->n_labels; i++) {
			if (i)
				puts_(b, ",");
			puts_(b, f->labels[i]);
			puts_(b, "=\"");
			put_escaped(b, s->values[i], true);
			puts_(b, "\"");
		}
		if (extra) {
			if (f->n_labels)
				puts_(b, ",");
			puts_(b, extra);
		}
		puts_(b, "}");
	}
	puts_(b, " ");
	put_number(b, v);
	puts_(b, "\n");
}

static void render_family(struct buf *b, const struct metrics_family *f)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	puts_(b, "# HELP ");
	puts_(b, f->name);
	puts_(b, " ");
	put_escaped(b, f->help, false);
	puts_(b, "\n# TYPE ");
	puts_(b, f->name);
	puts_(b, " ");
	puts_(b, types[f->type]);
	puts_(b, "\n");
	for (size_t i = 0; i < f->n_series; i++) {
		const struct series *s = &f->series[i];
		if (f->type != METRICS_HISTOGRAM) {
			put_sample(b, f, "", s, NULL, s->value);
			continue;
		}
		uint64_t cum = 0;
		for (size_t k = 0; k <= f->n_bounds; k++) {
			struct buf le = { 0 };
			cum += s->buckets[k];
			puts_(&le, "le=\"");
			if (k < f->n_bounds)
				put_number(&le, f->bounds[k]);
			else
				puts_(&le, "+Inf");
			puts_(&le, "\"");
			put_sample(b, f, "_bucket", s, le.p, (double)cum);
			free(le.p);
		}
		put_sample(b, f, "_sum", s, NULL, s->value);
		put_sample(b, f, "_count", s, NULL, (double)s->count);
	}
}

char *metrics_render(struct metrics *m, size_t *ret_len)
{
	struct buf b = { 0 };
	puts_(&b, "");
	(void)pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_fams; i++)
		render_family(&b, m->fams[i]);
	(void)pthread_mutex_unlock(&m->lock);
	*ret_len = b.len;
	return b.p;
}
