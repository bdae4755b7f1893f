// SPDX-License-Identifier: Apache-2.0
/* plexus: the Multus-compatible meta-plugin binary. */
#include <string.h>

#include "hostlocal/builtins.h"
#include "lib/cni/skel.h"
#include "meta/internal.h"
#include "meta/meta.h"

int main(int argc, char **argv)
{
	hl_register_builtin_ipam();
	/* plexus-apid's hot-plug agent (docs/hotplug.md): runtimes exec CNI plugins without
	 * arguments (CNI SPEC.md, "Protocol"), so none of theirs can select this mode. */
	if (argc == 2 && strcmp(argv[1], "--hotplug") == 0)
		return cni_skel_main(1, argv, &meta_hotplug_plugin,
				     "plexus meta-plugin hot-plug " PLEXUS_VERSION);
	return cni_skel_main(argc, argv, &meta_plugin, "plexus meta-plugin " PLEXUS_VERSION);
}
