// SPDX-License-Identifier: Apache-2.0
/* plexus-vxlan: the vxlan plugin as a standalone CNI binary. */
#include "hostlocal/builtins.h"
#include "lib/cni/skel.h"
#include "vxlan/vxlan.h"

int main(int argc, char **argv)
{
	hl_register_builtin_ipam();
	return cni_skel_main(argc, argv, &vxlan_plugin, "plexus vxlan plugin " PLEXUS_VERSION);
}
