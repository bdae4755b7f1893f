// SPDX-License-Identifier: Apache-2.0
/* plexus-hostlocal: the built-in host-local IPAM as a standalone CNI binary. */
#include "hostlocal/builtins.h"
#include "lib/cni/skel.h"

int main(int argc, char **argv)
{
	hl_register_builtin_ipam();
	return cni_skel_main(argc, argv, &hostlocal_plugin,
			     "plexus host-local IPAM plugin " PLEXUS_VERSION);
}
