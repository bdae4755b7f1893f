// SPDX-License-Identifier: Apache-2.0
/* A pod's attachments in parallel: which ones may run together (a batch), and a bounded pool of
 * threads that runs one batch (docs/meta.md, "Parallel attachments"). */
#include <pthread.h>
#include <string.h>

#include "lib/json/json.h"
#include "lib/util/cleanup.h"
#include "lib/util/sysfs.h"
#include "meta/internal.h"

/* Two attachments that draw from one address pool: the same network name (host-local's store
 * is <dataDir>/<name>) or the same plugin's IPAM configuration. Run together, which of them
 * gets which address would depend on timing; kept in plan order, it is the serial result. */
static bool ordered(const struct attachment *a, const struct attachment *b)
{
	if (a->list.name && b->list.name && strcmp(a->list.name, b->list.name) == 0)
		return true;
	const cJSON *pa, *pb;
	cJSON_ArrayForEach (pa, a->list.plugins) {
		const cJSON *ia = json_get(pa, "ipam");
		if (!cJSON_IsObject(ia))
			continue;
		cJSON_ArrayForEach (pb, b->list.plugins) {
			if (cJSON_Compare(ia, json_get(pb, "ipam"), true))
				return true;
		}
	}
	return false;
}

size_t meta_batch_len(const struct plan *p, const size_t *idx, size_t n)
{
	if (p->conf.max_parallel <= 1)
		return n ? 1 : 0;
	size_t len = 0;
	for (; len < n; len++)
		for (size_t k = 0; k < len; k++)
			if (ordered(&p->att[idx[k]], &p->att[idx[len]]))
				return len;
	return len;
}

struct pool {
	size_t n;
	int (*fn)(void *ctx, size_t i);
	void *ctx;
	bool stop_on_error;
	pthread_mutex_t lock;
	size_t next;
	bool failed;
};

static void *worker(void *arg)
{
	struct pool *q = arg;
	for (;;) {
		pthread_mutex_lock(&q->lock);
		size_t i = q->next;
		bool stop = i >= q->n || (q->stop_on_error && q->failed);
		if (!stop)
			q->next++;
		pthread_mutex_unlock(&q->lock);
		if (stop)
			return NULL;
		if (q->fn(q->ctx, i) < 0) {
			pthread_mutex_lock(&q->lock);
			q->failed = true;
			pthread_mutex_unlock(&q->lock);
		}
	}
}

void meta_pool_run(size_t n, size_t max, int (*fn)(void *ctx, size_t i), void *ctx,
		   bool stop_on_error)
{
	struct pool q = { .n = n, .fn = fn, .ctx = ctx, .stop_on_error = stop_on_error };
	size_t workers = n < max ? n : max;
	pthread_mutex_init(&q.lock, NULL);
	/* Lazily initialised process state the built-ins read, set here before any thread. */
	(void)sysfs_root();
	/* The calling thread is one of the workers; a thread that cannot be made leaves its share
	 * to the others. Each thread enters the pod netns itself (setns is per thread, and every
	 * thread starts in the caller's netns: cni_netns_run). */
	_cleanup_free_ pthread_t *tids = xmalloc((workers ? workers : 1) * sizeof(*tids));
	size_t started = 0;
	for (size_t w = 1; w < workers; w++)
		if (pthread_create(&tids[started], NULL, worker, &q) == 0)
			started++;
	(void)worker(&q);
	for (size_t w = 0; w < started; w++)
		(void)pthread_join(tids[w], NULL);
	pthread_mutex_destroy(&q.lock);
}

struct batch {
	struct plan *p;
	const size_t *idx;
	meta_att_fn fn;
	struct meta_batch_out *out;
};

static int batch_one(void *ctx, size_t k)
{
	struct batch *b = ctx;
	struct meta_batch_out *o = &b->out[b->idx[k]];
	o->ran = true;
	o->r = b->fn(b->p, &b->p->att[b->idx[k]], &o->err);
	return o->r;
}

void meta_batch_run(struct plan *p, const size_t *idx, size_t n, meta_att_fn fn, bool stop_on_error,
		    struct meta_batch_out *out)
{
	struct batch b = { .p = p, .idx = idx, .fn = fn, .out = out };
	meta_pool_run(n, p->conf.max_parallel, batch_one, &b, stop_on_error);
}
