// SPDX-License-Identifier: Apache-2.0
/* The table of plugins built into plexus: these types run in-process, no fork/exec. */
#include <string.h>

#include "delegates/dlg.h"
#include "ipvlan/ipvlan.h"
#include "lib/util/cleanup.h"
#include "macvlan/macvlan.h"
#include "sriov/sriov.h"
#include "vxlan/vxlan.h"

static const struct cni_plugin *const builtins[] = {
	&macvlan_plugin,
	&ipvlan_plugin,
	&vxlan_plugin,
	&sriov_plugin,
};

const struct cni_plugin *dlg_builtin(const char *type)
{
	if (!type)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(builtins); i++) {
		if (strcmp(builtins[i]->name, type) == 0)
			return builtins[i];
		for (const char *const *a = builtins[i]->aliases; a && *a; a++)
			if (strcmp(*a, type) == 0)
				return builtins[i];
	}
	return NULL;
}
