/* SPDX-License-Identifier: Apache-2.0 */
/* Link carrier from rtnetlink (RTMGRP_LINK) in the current netns: VF and PF health. */
#pragma once

#include <stdbool.h>

#include "lib/cni/err.h"

struct dp_health;
/* Subscribe to link events, then dump the current links. *ret is freed with dp_health_free. */
int dp_health_open(struct dp_health **ret, struct cni_err *err);
void dp_health_free(struct dp_health *h);
int dp_health_fd(const struct dp_health *h);
/* Read pending events; *ret_changed when any link's carrier or name changed. */
int dp_health_process(struct dp_health *h, bool *ret_changed, struct cni_err *err);
/* Carrier of the named link; links not in this netns (moved to a pod, fake names) are up. */
bool dp_health_link_ok(const struct dp_health *h, const char *ifname);
