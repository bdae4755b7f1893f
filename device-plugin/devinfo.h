/* SPDX-License-Identifier: Apache-2.0 */
/* Device-info files (NPWG device-info spec) for the VFs handed to pods. */
#pragma once

#include "device-plugin/devices.h"
#include "lib/cni/err.h"
#include "lib/json/json.h"

/* <devinfo>/dp/<resource, '/' -> '-'>-<BDF>-device.json: the device-info file the meta-plugin
 * reads for a VF of `resource` (caller frees). */
char *dp_devinfo_path(const char *devinfo_dir, const char *resource, const char *bdf);
/* {"type":"pci","version":"1.1.0","pci":{...}} for vf (caller frees the tree). */
cJSON *dp_devinfo_json(const struct dp_vf *vf);
/* Write vf's device-info file atomically (creating <devinfo>/dp). Code 5 on failure. */
int dp_devinfo_write(const char *devinfo_dir, const char *resource, const struct dp_vf *vf,
		     struct cni_err *err);
