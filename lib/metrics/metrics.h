/* SPDX-License-Identifier: Apache-2.0 */
/* A small metrics registry for the node daemons and its Prometheus text exposition (format
 * 0.0.4): counters, gauges and histograms with a fixed set of label names per family. */
#pragma once

#include <stddef.h>

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

struct metrics;
struct metrics_family;

/* An empty registry; thread-safe from here on (one lock). Freed with metrics_free. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Add a family. name, help, labels (NULL-terminated label names) and buckets (ascending upper
 * bounds, histograms only; +Inf is implied) are borrowed and must outlive m: pass constants.
 * The family belongs to m. */
struct metrics_family *metrics_family(struct metrics *m, enum metrics_type type, const char *name,
				      const char *help, const char *const *labels,
				      const double *buckets, size_t n_buckets);

/* The series named by the label values that follow (one const char * per label name of the
 * family, copied) is created at 0 when new. metrics_add: counter or gauge += v (a counter only
 * grows: negative v is ignored). metrics_set: gauge = v. metrics_observe: histogram. An
 * operation the family's type lacks is ignored; so is a NULL f (no registry set up). */
void metrics_add(struct metrics_family *f, double v, ...);
void metrics_set(struct metrics_family *f, double v, ...);
void metrics_observe(struct metrics_family *f, double v, ...);
/* Drop every series of f (a gauge whose label values went away, e.g. a removed pool). */
void metrics_clear(struct metrics_family *f);

/* The whole registry in the text exposition format, families in registration order and series
 * in creation order. Returns a NUL-terminated string the caller frees, its length in *ret_len. */
char *metrics_render(struct metrics *m, size_t *ret_len);
