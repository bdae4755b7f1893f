/* SPDX-License-Identifier: Apache-2.0 */
/* Kubernetes API client configuration: kubeconfig (libyaml) or in-cluster service account. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct cni_err;
struct kube_transport_ops;

#define KUBE_SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBE_CONNECT_TIMEOUT_MS_DEFAULT 5000
#define KUBE_TIMEOUT_MS_DEFAULT 15000
#define KUBE_MAX_RESPONSE_DEFAULT (4u << 20)

/* A PEM credential: a file path, or the decoded bytes of a *-data field (never both). */
struct kube_pem {
	char *file;
	char *data;
	size_t len;
};

/* Everything needed to talk to one API server. Owned by whoever loaded it; every string is
 * owned by the struct. Secrets (token, key data) are never logged and are wiped on free. */
struct kube_config {
	char *server;	      /* "https://host:port", no trailing slash */
	char *namespace;      /* context or service-account namespace, NULL if unknown */
	struct kube_pem ca;   /* empty: the system trust store */
	struct kube_pem cert; /* client certificate (with key) */
	struct kube_pem key;
	char *token;	  /* static bearer token */
	char *token_file; /* bearer token re-read on every request (tokens rotate) */
	long connect_timeout_ms;
	long timeout_ms; /* whole call, retries and waits included */
	size_t max_response;
	/* Transport seam for tests' canned responses: NULL means libcurl. Borrowed, not freed. */
	const struct kube_transport_ops *ops;
	void *ops_data;
};

/* Load kubeconfig `path`, using its current-context. Relative file paths inside it are
 * resolved against the kubeconfig's directory, as kubectl does. Errors are code 7 naming the
 * key path ("kubeconfig: users[0].user.client-key-data: invalid base64"), or 5 for I/O. */
int kube_config_load_file(const char *path, struct kube_config **ret, struct cni_err *err);
/* In-cluster config: KUBERNETES_SERVICE_HOST/PORT and `sa_dir`/{token,ca.crt}; sa_dir NULL
 * means $PLEXUS_SA_DIR, else KUBE_SA_DIR_DEFAULT. Code 7 when not running in a cluster. */
int kube_config_load_incluster(const char *sa_dir, struct kube_config **ret, struct cni_err *err);
/* Whether an API is configured at all: a non-empty kubeconfig path, or either in-cluster
 * variable set (a half-set in-cluster environment is configured, and fails to load). */
bool kube_config_configured(const char *kubeconfig);
/* kubeconfig path if non-empty, else in-cluster. */
int kube_config_load(const char *kubeconfig, struct kube_config **ret, struct cni_err *err);
/* Frees everything, wiping secrets. NULL is fine. */
void kube_config_free(struct kube_config *cfg);

/* Standard base64 (RFC 4648 §4, padding required, no whitespace). Returns 0 with an owned,
 * NUL-terminated buffer, or -EINVAL. */
int kube_base64_decode(const char *in, size_t in_len, char **ret, size_t *ret_len);

static inline void kube_config_freep(struct kube_config **p)
{
	kube_config_free(*p);
}
#define _cleanup_kube_config_ __attribute__((cleanup(kube_config_freep)))
