/* SPDX-License-Identifier: Apache-2.0 */
/* File helpers: atomic write, whole-file read, directory creation, flock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Temp files are "<path>" FILE_TEMP_INFIX "<pid of the writer>", next to path. */
#define FILE_TEMP_INFIX ".tmp."

/* Write data to path atomically: temp file in the same dir, then rename, so readers and a
 * process killed mid-write see the old or the new content, never a mix. Not fsync'ed: what
 * these files describe (links, netns, VF settings, leases' pods) does not outlive a reboot,
 * and an fsync costs a disk flush (~1 ms or more) on the CNI hot path. Returns 0 or -errno;
 * on failure no temp file is left and path is unchanged. A process killed mid-write leaves its
 * temp file (file_unlink_temps). */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* file_write_atomic that also survives a power loss: the temp file is fsync'ed before the
 * rename and the directory after it, so path then holds the old or the new content (never an
 * empty or partial file) and a new path is not lost. 0 or -errno (an fsync failure of the
 * directory is reported after the rename, path holding the new content). */
int file_write_durable(const char *path, const void *data, size_t len, mode_t mode);
/* If name is a temp file name ("<base>.tmp.<pid>"), the writer's pid and (optional) the length
 * of <base>; else -1. */
pid_t file_temp_pid(const char *name, size_t *ret_base_len);
/* The writer of a temp file is gone (no such process), so its file will never be renamed. */
bool file_temp_stale(pid_t pid);
/* Remove path's temp files; only_stale: only those whose writer is gone (another process may
 * be writing path now). Returns how many were removed, or -errno if the directory cannot be
 * read (a missing directory is 0). */
int file_unlink_temps(const char *path, bool only_stale);
/* openat(dfd, name, flags) of a regular file only, for paths others may have planted things
 * at: never through a symlink as the last component (-ELOOP), never blocking on a FIFO, and a
 * FIFO, device or directory is -EINVAL. O_CLOEXEC; returns the fd or -errno. */
int file_open_regular(int dfd, const char *name, int flags, mode_t mode);
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
