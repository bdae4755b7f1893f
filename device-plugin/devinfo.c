// SPDX-License-Identifier: Apache-2.0
/* Device-info files for the meta-plugin: one JSON file per VF handed to a pod. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "device-plugin/devinfo.h"
#include "lib/util/cleanup.h"
#include "lib/util/file.h"

cJSON *dp_devinfo_json(const struct dp_vf *vf)
{
	cJSON *o = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(o, "type", "pci");
	(void)cJSON_AddStringToObject(o, "version", "1.1.0");
	cJSON *pci = cJSON_AddObjectToObject(o, "pci");
	(void)cJSON_AddStringToObject(pci, "pci-address", vf->bdf);
	(void)cJSON_AddStringToObject(pci, "pf-pci-address", vf->pf_bdf);
	return o;
}

char *dp_devinfo_path(const char *devinfo_dir, const char *resource, const char *bdf)
{
	_cleanup_free_ char *res = xstrdup(resource);
	for (char *c = res; *c; c++)
		if (*c == '/')
			*c = '-';
	return xasprintf("%s/dp/%s-%s-device.json", devinfo_dir, res, bdf);
}

int dp_devinfo_write(const char *devinfo_dir, const char *resource, const struct dp_vf *vf,
		     struct cni_err *err)
{
	_cleanup_free_ char *dir = xasprintf("%s/dp", devinfo_dir);
	_cleanup_free_ char *path = dp_devinfo_path(devinfo_dir, resource, vf->bdf);
	_cleanup_json_ cJSON *o = dp_devinfo_json(vf);
	_cleanup_free_ char *text = json_print(o);
	int r = file_mkdir_p(dir, 0755);
	if (r >= 0)
		r = file_write_atomic(path, text, strlen(text), 0644);
	if (r < 0)
		return cni_err_set(err, CNI_ERR_IO, -r, "device-info '%s': %s", path, strerror(-r));
	return 0;
}
