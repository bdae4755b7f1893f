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

struct batch {
	struct plan *p;
	const size_t *idx;
	size_t n;
	meta_att_fn fn;
	bool stop_on_error;
	struct meta_batch_out *out;
	pthread_mutex_t lock;
	size_t next;
	bool failed;
};

static void *worker(void *arg)
{
	struct batch *b = arg;
	for (;;) {
		pthread_mutex_lock(&b->lock);
		size_t k = b->next;
		bool stop = k >= b->n || (b->stop_on_error && b->failed);
		if (!stop)
			b->next++;
		pthread_mutex_unlock(&b->lock);
		if (stop)
			return NULL;
		size_t i = b->idx[k];
		b->out[i].ran = true;
		b->out[i].r = b->fn(b->p, &b->p->att[i], &b->out[i].err);
		if (b->out[i].r < 0) {
			pthread_mutex_lock(&b->lock);
			b->failed = true;
			pthread_mutex_unlock(&b->lock);
		}
	}
}

void meta_batch_run(struct plan *p, const size_t *idx, size_t n, meta_att_fn fn, bool stop_on_error,
		    struct meta_batch_out *out)
{
	struct batch b = {
		.p = p, .idx = idx, .n = n, .fn = fn, .stop_on_error = stop_on_error, .out = out
	};
	size_t workers = n < p->conf.max_parallel ? n : p->conf.max_parallel;
	pthread_mutex_init(&b.lock, NULL);
	/* Lazily initialised process state the built-ins read, set here before any thread. */
	(void)sysfs_root();
	/* The calling thread is one of the workers; a thread that cannot be made leaves its share
	 * to the others. Each thread enters the pod netns itself (setns is per thread, and every
	 * thread starts in the caller's netns: cni_netns_run). */
	_cleanup_free_ pthread_t *tids = xmalloc((workers ? workers : 1) * sizeof(*tids));
	size_t started = 0;
	for (size_t w = 1; w < workers; w++)
		if (pthread_create(&tids[started], NULL, worker, &b) == 0)
			started++;
	(void)worker(&b);
	for (size_t w = 0; w < started; w++)
		(void)pthread_join(tids[w], NULL);
	pthread_mutex_destroy(&b.lock);
}
