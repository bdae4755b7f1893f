/* SPDX-License-Identifier: Apache-2.0 */
/* host-local internals: the on-disk store shared with the reference binary (docs/ipam.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "hostlocal/hostlocal.h"

/* A file of the store whose content names an owner: "<id>\r\n<ifname>" or, in the format
 * before ifnames, "<id>". */
struct hl_lease {
	char *name;	    /* owned; NULL once released */
	char *id;	    /* owned; the same buffer holds ifname */
	const char *ifname; /* NULL: the old format */
	bool is_ip;	    /* named by an address: a reservation */
};

/* <dataDir>/<network>/ opened safely, with the flock on its "lock" file held until closed, and
 * its leases read once: under the lock only this process changes them. */
struct hl_store {
	int dir_fd;
	int lock_fd;
	struct hl_lease *leases; /* owned */
	size_t n;
};
#define HL_STORE_INIT                       \
	{                                   \
		.dir_fd = -1, .lock_fd = -1 \
	}

/* Create (mkdir -p, no symlink hop, checked owners), lock and read the store of c. With sweep,
 * also remove what killed writers left: temp files and garbage leases (docs/ipam.md). Errors:
 * code 7 naming ipam.dataDir for an unsafe directory, 5 for I/O. */
int hl_store_open(const struct hl_conf *c, bool sweep, struct hl_store *ret, struct cni_err *err);
void hl_store_close(struct hl_store *s);

/* Addresses held by (id, ifname) (GetByID); *ret is the caller's to free. Returns the count. */
size_t hl_store_get_by_id(const struct hl_store *s, const char *id, const char *ifname,
			  struct ip_addr **ret);
/* ReleaseByID: remove every lease of (id, ifname), or, if none, those of id alone (old
 * format). Errors are eaten so that as much as possible is released, like the reference. */
void hl_store_release(struct hl_store *s, const char *id, const char *ifname);
/* Some lease of (id, ifname) (or of id in the old format) exists. */
bool hl_store_find(const struct hl_store *s, const char *id, const char *ifname);
/* Remove the leases whose owner is none of the n attachments (CNI GC). */
void hl_store_gc(struct hl_store *s, const struct cni_attachment *valid, size_t n);
/* Lease ip for (id, ifname) and record it as last_reserved_ip.<set>. Returns 1 reserved,
 * 0 taken, or -errno (and nothing reserved). */
int hl_store_reserve(struct hl_store *s, const struct ip_addr *ip, const char *id,
		     const char *ifname, size_t set);
/* last_reserved_ip.<set>; family 0 when absent or unreadable. */
void hl_store_last_ip(const struct hl_store *s, size_t set, struct ip_addr *ret);
