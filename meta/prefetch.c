// SPDX-License-Identifier: Apache-2.0
/* The NADs a pod selects, fetched from the API concurrently before planning reads them in order
 * (docs/meta.md, "Parallel attachments"): one round trip of waiting instead of one per NAD. */
#include <stdlib.h>
#include <string.h>

#include "lib/kube/nad.h"
#include "lib/util/cleanup.h"
#include "meta/internal.h"
#include "meta/networks.h"
#include "meta/policy.h"

struct nad_fetch {
	char *ns, *name;
	struct kube_nad *nad;
	int r;
	struct cni_err err;
};

static int fetch_one(void *ctx, size_t i)
{
	struct plan *p = ctx;
	struct nad_fetch *f = &p->fetched[i];
	f->r = kube_nad_get(p->kube, f->ns, f->name, &f->nad, &f->err);
	return f->r;
}

void meta_nads_prefetch(struct plan *p, struct meta_selection *const *sel, size_t n, size_t n_node)
{
	if (p->conf.max_parallel <= 1 || n < 2 || !p->kube)
		return;
	p->fetched = xcalloc(n, sizeof(*p->fetched));
	for (size_t i = 0; i < n; i++) {
		const char *ns = sel[i]->namespace ? sel[i]->namespace : p->pod_ns;
		/* Only what planning would ask for: a NAD isolation refuses is never requested. */
		struct cni_err e = { 0 };
		if (i >= n_node && meta_policy_check_isolation(p->conf.namespace_isolation,
							       p->conf.global_namespaces,
							       p->conf.n_global_namespaces,
							       p->pod_ns, ns, sel[i]->name, &e) < 0)
			continue;
		if (meta_nad_fetched(p, ns, sel[i]->name))
			continue;
		struct nad_fetch *f = &p->fetched[p->n_fetched++];
		f->ns = xstrdup(ns);
		f->name = xstrdup(sel[i]->name);
	}
	meta_pool_run(p->n_fetched, p->conf.max_parallel, fetch_one, p, false);
}

struct nad_fetch *meta_nad_fetched(const struct plan *p, const char *ns, const char *name)
{
	for (size_t i = 0; i < p->n_fetched; i++)
		if (strcmp(p->fetched[i].ns, ns) == 0 && strcmp(p->fetched[i].name, name) == 0)
			return &p->fetched[i];
	return NULL;
}

int meta_nad_fetched_get(struct nad_fetch *f, const struct kube_nad **ret, struct cni_err *err)
{
	if (f->r < 0) {
		*err = f->err;
		return f->r;
	}
	*ret = f->nad;
	return 0;
}

void meta_nads_fetched_free(struct plan *p)
{
	for (size_t i = 0; i < p->n_fetched; i++) {
		free(p->fetched[i].ns);
		free(p->fetched[i].name);
		kube_nad_free(p->fetched[i].nad);
	}
	free(p->fetched);
	p->fetched = NULL;
	p->n_fetched = 0;
}
