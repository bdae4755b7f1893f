// SPDX-License-Identifier: Apache-2.0
/* plexus-sriov: the SR-IOV VF plugin as a standalone CNI binary. */
#include "hostlocal/builtins.h"
#include "lib/cni/skel.h"
#include "sriov/sriov.h"

int main(int argc, char **argv)
{
	hl_register_builtin_ipam();
	return cni_skel_main(argc, argv, &sriov_plugin, "plexus sriov plugin " PLEXUS_VERSION);
}
