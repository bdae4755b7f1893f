/* SPDX-License-Identifier: Apache-2.0 */
/* Root-prefixed sysfs and /dev access: PLEXUS_SYSFS_ROOT lets tests point at fake trees. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The root prefix: $PLEXUS_SYSFS_ROOT without trailing '/', or "" for the real root. Borrowed,
 * valid for the process lifetime (read once). */
const char *sysfs_root(void);
/* Whether the root is the real one ("/" or unset). */
bool sysfs_root_is_real(void);
/* "<root><path>" where path starts with '/'; the caller frees. */
char *sysfs_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Base name of the symlink target at path (e.g. the driver name of ".../driver") into a new
 * string the caller frees. Returns 0, -ENOENT when missing, -EINVAL when not a link. */
int sysfs_link_basename(const char *path, char **ret);
/* The only entry of directory path (ignoring "." and ".."): 0 with *ret (caller frees);
 * -ENOENT when the directory is missing or empty; -ENOTUNIQ when it holds several. */
int sysfs_dir_single(const char *path, char **ret);
/* Whether path exists (lstat). */
bool sysfs_exists(const char *path);
