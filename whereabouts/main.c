// SPDX-License-Identifier: Apache-2.0
/* plexus-whereabouts: the built-in whereabouts IPAM as a standalone CNI binary. */
#include "hostlocal/builtins.h"
#include "lib/cni/skel.h"

int main(int argc, char **argv)
{
	hl_register_builtin_ipam();
	return cni_skel_main(argc, argv, &whereabouts_plugin,
			     "plexus whereabouts IPAM plugin " PLEXUS_VERSION);
}
