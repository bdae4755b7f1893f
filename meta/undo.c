// SPDX-License-Identifier: Apache-2.0
/* The meta-plugin's undo of attempted attachments. */
#include <unistd.h>

#include "lib/util/log.h"
#include "meta/internal.h"

void meta_rollback(struct plan *p, size_t attempted)
{
	for (size_t i = attempted; i-- > 0;) {
		struct attachment *a = &p->att[i];
		struct dlg_rt rt = meta_att_rt(p, a);
		struct cni_err e = { 0 };
		if (dlg_list_del(&a->list, &rt, a->result, &e) < 0)
			log_warning("meta_rollback of '%s' (%s): %s", a->name, a->ifname, e.msg);
		if (a->device_info_file)
			(void)unlink(a->device_info_file);
	}
}

