/* SPDX-License-Identifier: Apache-2.0 */
/* A small informer: LIST, then WATCH from the List's resourceVersion, resumed after every
 * disconnect, re-LISTed when the server has forgotten that resourceVersion (410). */
#pragma once

#include <cjson/cJSON.h>
#include <stddef.h>

#include "lib/kube/list.h"

struct cni_err;
struct kube_config;

#define KUBE_WATCH_TIMEOUT_S_DEFAULT 300 /* timeoutSeconds of one WATCH request */
#define KUBE_WATCH_BACKOFF_MIN_MS_DEFAULT 200
#define KUBE_WATCH_BACKOFF_MAX_MS_DEFAULT 30000

enum kube_watch_event {
	KUBE_WATCH_SYNC, /* obj: an array of every object now (a fresh LIST): replace what you
			  * knew; objects missing from it were deleted while nobody watched */
	KUBE_WATCH_ADDED,
	KUBE_WATCH_MODIFIED,
	KUBE_WATCH_DELETED, /* obj: the last state of the object */
};

/* Counters a caller (or test) may read after kube_watch_run returns. */
struct kube_watch_stats {
	unsigned lists;	    /* successful LISTs (each one a KUBE_WATCH_SYNC) */
	unsigned watches;   /* WATCH requests that got a 200 */
	unsigned expired;   /* 410s that forced a re-LIST */
	unsigned failures;  /* failed LISTs and WATCHes, each followed by a back-off */
	unsigned events;    /* ADDED, MODIFIED and DELETED delivered */
	unsigned bookmarks; /* BOOKMARKs seen (they only move the resume point) */
};

/* What to watch and how. path, on_event and stop_fd (-1 for none) are required; for the
 * rest, zero means the default. */
struct kube_watch {
	const char *path; /* collection: "/api/v1/pods", "/apis/G/V/namespaces/NS/R" */
	struct kube_selectors sel;
	/* Called for every event in resourceVersion order; obj is borrowed for the call. A
	 * negative return (with err set) ends kube_watch_run with that error. */
	int (*on_event)(void *data, enum kube_watch_event type, const cJSON *obj,
			struct cni_err *err);
	void *data;
	int stop_fd;	      /* readable (an eventfd, a pipe): return promptly; -1: none */
	long run_ms;	      /* return 0 after this long; 0: until stopped */
	long watch_timeout_s; /* per WATCH request (the server ends it; we resume) */
	size_t max_event;     /* longest event line; 0: cfg->max_response */
	size_t max_items;     /* for each LIST; 0: KUBE_LIST_MAX_ITEMS_DEFAULT */
	long backoff_min_ms, backoff_max_ms; /* jittered exponential back-off after failures */
	struct kube_watch_stats *stats;	     /* NULL: not counted */
};

/* Run the LIST+WATCH loop until stop_fd is readable or run_ms passed (0), on_event fails (its
 * error), or the API refuses for good: any error that is not code 11 (401, 403, 404, other
 * statuses, a response too large, a TLS failure; code 101, or 7 for a bad path). Transient
 * failures (code 11: connect, timeouts, 429, 5xx; cut streams, ERROR events other than 410,
 * undecodable lines) are retried from the last resourceVersion seen after a jittered back-off.
 * Needs a streaming transport (libcurl). */
int kube_watch_run(const struct kube_config *cfg, const struct kube_watch *w, struct cni_err *err);
