// SPDX-License-Identifier: Apache-2.0
/* plexus: the Multus-compatible meta-plugin binary. */
#include "hostlocal/builtins.h"
#include "lib/cni/skel.h"
#include "meta/meta.h"

int main(int argc, char **argv)
{
	hl_register_builtin_ipam();
	return cni_skel_main(argc, argv, &meta_plugin, "plexus meta-plugin " PLEXUS_VERSION);
}
