/* SPDX-License-Identifier: Apache-2.0 */
/* The built-in IPAM table (host-local, static) that every plexus binary registers in main(). */
#pragma once

#include "hostlocal/hostlocal.h"
#include "lib/cni/ipam.h"
#include "staticipam/staticipam.h"

/* Make cni_ipam_* run host-local and static in-process (PLEXUS_IPAM_EXEC=1 turns it off). */
static inline void hl_register_builtin_ipam(void)
{
	static const struct cni_plugin *const table[] = { &hostlocal_plugin, &staticipam_plugin };
	cni_ipam_set_builtins(table, sizeof(table) / sizeof(table[0]));
}
