/* SPDX-License-Identifier: Apache-2.0 */
/* plexus-apid's attachment metrics: the meta-plugin's per-verb report datagrams
 * (lib/metrics/report.h) received on a Unix datagram socket and served as plexus_attachment_*
 * and plexus_ipam_pool_* (docs/observability.md, "Attachment metrics", "IPAM pool usage"). */
#pragma once

#include <stddef.h>

struct cni_err;
struct metrics;
struct report;

/* Distinct (network, plugin) pairs kept; beyond, entries count as network="other",
 * plugin="other" and in plexus_attachment_overflow_total. */
#define APID_ATTACH_PAIRS_MAX 512
/* Distinct (network, plugin, ipam, range) pools with plexus_ipam_pool_* series; beyond, their
 * entries are not exported and count in plexus_ipam_pool_overflow_total. */
#define APID_POOLS_MAX 512

/* Register the plexus_attachment_* families in reg. Call once, before the others. */
void apid_attach_setup(struct metrics *reg);

/* One datagram of len bytes (an attachment or a pool report): parsed strictly and recorded, or
 * counted as invalid (-EINVAL). */
int apid_attach_datagram(const char *buf, size_t len);

/* Bind path (SOCK_DGRAM, mode 0600, replacing a socket left there) and receive on a thread of
 * its own from then on. Returns 0 or -errno (err says what). */
int apid_attach_start(const char *path, struct cni_err *err);
