/* SPDX-License-Identifier: Apache-2.0 */
/* Unix stream sockets that daemons serve (plexus-apid, the device plugin's endpoints). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Listen on path, mode 0600, SOCK_CLOEXEC | flags (e.g. SOCK_NONBLOCK), backlog 128. What is
 * at path decides: nothing -> bind; a socket nobody answers on (left by a previous run) ->
 * replaced (logged); a socket that answers -> -EADDRINUSE when refuse_live, else replaced;
 * anything else -> -EEXIST and left alone. Path too long -> -ENAMETOOLONG. Returns the listening
 * fd, or -errno with nothing left behind. */
int sock_unix_listen(const char *path, int flags, bool refuse_live);

/* Connect to path, non-blocking (SOCK_CLOEXEC | SOCK_NONBLOCK stays set on the fd). A full
 * listen queue is -EAGAIN at once when deadline_ms is 0, else waited for until deadline_ms
 * (clock_now_ms) and then -ETIMEDOUT. Returns the fd or -errno (-ENOENT: no socket,
 * -ECONNREFUSED: nobody listens, -ENAMETOOLONG). */
int sock_unix_connect(const char *path, int64_t deadline_ms);
