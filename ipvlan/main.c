// SPDX-License-Identifier: Apache-2.0
/* plexus-ipvlan: the ipvlan plugin as a standalone CNI binary. */
#include "ipvlan/ipvlan.h"
#include "hostlocal/builtins.h"
#include "lib/cni/skel.h"

int main(int argc, char **argv)
{
	hl_register_builtin_ipam();
	return cni_skel_main(argc, argv, &ipvlan_plugin, "plexus ipvlan plugin " PLEXUS_VERSION);
}
