/* SPDX-License-Identifier: Apache-2.0 */
/* The built-in IPAM table (host-local, static, whereabouts) that every plexus binary registers in
 * main(). */
#pragma once

#include "hostlocal/hostlocal.h"
#include "lib/cni/ipam.h"
#include "staticipam/staticipam.h"
#include "whereabouts/whereabouts.h"

/* Make cni_ipam_* run host-local, static and whereabouts in-process (PLEXUS_IPAM_EXEC=1 turns it
 * off). */
static inline void hl_register_builtin_ipam(void)
{
	static const struct cni_plugin *const table[] = { &hostlocal_plugin, &staticipam_plugin,
							  &whereabouts_plugin };
	cni_ipam_set_builtins(table, sizeof(table) / sizeof(table[0]));
}
