// SPDX-License-Identifier: Apache-2.0
/* CNI spec versions: the supported list, strict parsing and result-shape queries. */
#include <stdio.h>
#include <string.h>

#include "lib/cni/err.h"
#include "lib/cni/version.h"

static const char *const versions[CNI_VERSION_COUNT] = {
	[CNI_V010] = "0.1.0", [CNI_V020] = "0.2.0", [CNI_V030] = "0.3.0", [CNI_V031] = "0.3.1",
	[CNI_V040] = "0.4.0", [CNI_V100] = "1.0.0", [CNI_V110] = "1.1.0",
};

/* One semver core number: digits, no leading zero (semver 2.0.0 §2). */
static const char *scan_number(const char *p)
{
	if (*p < '0' || *p > '9')
		return NULL;
	if (*p == '0')
		return p + 1;
	while (*p >= '0' && *p <= '9')
		p++;
	return p;
}

static bool is_semver_core(const char *s)
{
	const char *p = s;
	for (int i = 0; i < 3; i++) {
		p = scan_number(p);
		if (!p)
			return false;
		if (i < 2 && *p++ != '.')
			return false;
	}
	return *p == '\0';
}

int cni_version_parse(const char *s, enum cni_version *ret, struct cni_err *err)
{
	if (!s || !*s)
		return cni_err_set(err, CNI_ERR_DECODE, 0, "invalid CNI version '': empty");
	for (int v = 0; v < CNI_VERSION_COUNT; v++) {
		if (strcmp(s, versions[v]) == 0) {
			*ret = (enum cni_version)v;
			return 0;
		}
	}
	if (!is_semver_core(s))
		return cni_err_set(err, CNI_ERR_DECODE, 0, "invalid CNI version '%s': want X.Y.Z",
				   s);
	char list[128];
	size_t n = 0;
	for (int v = 0; v < CNI_VERSION_COUNT; v++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s\"%s\"", v ? " " : "",
				      versions[v]);
	/* Same wording as libcni's skel (Go %q of the list) so runtimes see a familiar message. */
	return cni_err_set(err, CNI_ERR_INCOMPATIBLE_VERSION, 0,
			   "incompatible CNI versions: config is \"%s\", plugin supports [%s]", s,
			   list);
}

const char *cni_version_str(enum cni_version v)
{
	if ((int)v < 0 || v >= CNI_VERSION_COUNT)
		return NULL;
	return versions[v];
}

bool cni_version_has_rich_result(enum cni_version v)
{
	return v >= CNI_V030;
}
