/* SPDX-License-Identifier: Apache-2.0 */
/* CNI spec versions: parsing, comparison and which verbs each allows. */
#pragma once

#include <stdbool.h>

struct cni_err;

enum cni_version {
	CNI_V010,
	CNI_V020,
	CNI_V030,
	CNI_V031,
	CNI_V040,
	CNI_V100,
	CNI_V110,
	CNI_VERSION_COUNT,
};

#define CNI_VERSION_LATEST CNI_V110
#define CNI_VERSIONS_ALL ((1u << CNI_VERSION_COUNT) - 1)

/* "1.0.0" -> CNI_V100. Unknown but well-formed semver -> code 1; malformed -> code 6. */
int cni_version_parse(const char *s, enum cni_version *ret, struct cni_err *err);
const char *cni_version_str(enum cni_version v);
/* Result shapes: 0.1.0/0.2.0 (ip4/ip6), 0.3.x/0.4.0 (ips[].version), 1.x. */
bool cni_version_has_rich_result(enum cni_version v);
