// SPDX-License-Identifier: Apache-2.0
/* plexus-macvlan: the macvlan plugin as a standalone CNI binary. */
#include "hostlocal/builtins.h"
#include "lib/cni/skel.h"
#include "macvlan/macvlan.h"

int main(int argc, char **argv)
{
	hl_register_builtin_ipam();
	return cni_skel_main(argc, argv, &macvlan_plugin, "plexus macvlan plugin " PLEXUS_VERSION);
}
