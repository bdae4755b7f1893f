// SPDX-License-Identifier: Apache-2.0
/* plexus: the Multus-compatible meta-plugin binary. */
#include "lib/cni/skel.h"
#include "meta/meta.h"

int main(int argc, char **argv)
{
	return cni_skel_main(argc, argv, &meta_plugin, "plexus meta-plugin " PLEXUS_VERSION);
}
