/* SPDX-License-Identifier: Apache-2.0 */
/* Files in directories named by untrusted config: no symlink hop, checked owners, atomic writes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Prefix of the temp files safedir_link_new and safedir_replace leave behind when killed
 * between creating and placing them; safedir_sweep_tmp removes them. */
#define SAFEDIR_TMP_PREFIX ".plexus-tmp."

/* 0 if path is absolute and has no empty, "." or ".." component ("/" alone is fine), else
 * -EINVAL. A trailing slash is an empty component. */
int safedir_path_check(const char *path);

/* Open the directory path (O_RDONLY, O_CLOEXEC), walking from "/" one component at a time with
 * O_NOFOLLOW|O_DIRECTORY, so no symlink is followed anywhere. With create, missing components
 * are made with mode (mkdir -p). Every directory on the way must be owned by root or the
 * effective uid and not group- or world-writable unless sticky (as /tmp); path itself must be
 * owned by the effective uid and not group- or world-writable at all. A component that fails
 * stops the walk before anything below it is created. Returns the fd, or -errno: -EINVAL bad
 * path, -ELOOP a symlink, -ENOTDIR not a directory, -EPERM owner or mode; *ret_bad_len (may be
 * NULL) is then the length of the prefix of path that failed. */
int safedir_open(const char *path, bool create, mode_t mode, size_t *ret_bad_len);

/* Open (creating, mode) the regular file name in dfd without following a symlink and take an
 * exclusive flock on it; blocks. Returns the fd (O_CLOEXEC), which holds the lock until
 * closed, or -errno (-ELOOP symlink, -EINVAL not a regular file). */
int safedir_lock(int dfd, const char *name, mode_t mode);

/* Create name in dfd holding exactly data, or nothing: data goes to a temp file that is then
 * link()ed to name (so an existing name, even a symlink, is never touched) and unlinked.
 * Returns 1 created, 0 name already exists, or -errno. */
int safedir_link_new(int dfd, const char *name, const void *data, size_t len, mode_t mode);

/* Replace name in dfd with data: temp file, then rename() over name (a symlink there is
 * replaced, never followed). Returns 0 or -errno; name is unchanged on failure. */
int safedir_replace(int dfd, const char *name, const void *data, size_t len, mode_t mode);

/* Read the regular file name in dfd (path relative to AT_FDCWD when dfd is AT_FDCWD) without
 * following a symlink in its last component and without blocking on a FIFO: at most max bytes
 * (else -EFBIG), NUL-terminated, into a buffer the caller frees. -EINVAL: not a regular file. */
int safedir_read(int dfd, const char *name, size_t max, char **ret, size_t *ret_len);

/* Remove every SAFEDIR_TMP_PREFIX file of dfd. Only safe while no writer can be between
 * creating and placing a temp file (the caller holds the lock all writers take). Returns the
 * number removed, or -errno. */
int safedir_sweep_tmp(int dfd);
