/* SPDX-License-Identifier: Apache-2.0 */
/* File helpers: atomic write, whole-file read, directory creation, flock. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Write data to path atomically: temp file in the same dir, then rename, so readers and a
 * process killed mid-write see the old or the new content, never a mix. Not fsync'ed: what
 * these files describe (links, netns, VF settings, leases' pods) does not outlive a reboot,
 * and an fsync costs a disk flush (~1 ms or more) on the CNI hot path. Returns 0 or -errno;
 * on failure no temp file is left and path is unchanged. */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* write(2) all of data, retrying short writes and EINTR. Returns 0 or -errno. */
int file_write_all(int fd, const void *data, size_t len);
/* Read a whole file (at most max bytes, else -EFBIG) into a NUL-terminated buffer the caller
 * frees. Returns 0 or -errno. */
int file_read_all(const char *path, size_t max, char **ret, size_t *ret_len);
/* Read a whole fd (pipe) until EOF, at most max bytes (else -EFBIG). Same ownership as above. */
int file_read_fd(int fd, size_t max, char **ret, size_t *ret_len);
/* mkdir -p with mode for the created components. Returns 0 or -errno. */
int file_mkdir_p(const char *path, mode_t mode);
/* Open (creating) path and take an exclusive flock on it; blocks. Returns the fd (O_CLOEXEC)
 * which holds the lock until closed, or -errno. */
int file_lock(const char *path);
/* Take an exclusive flock on an open fd (a directory's too); blocks. Returns 0 or -errno. */
int file_flock(int fd);
