/* SPDX-License-Identifier: Apache-2.0 */
/* CLOCK_MONOTONIC readings for deadlines and durations (immune to wall-clock steps). */
#pragma once

#include <stdint.h>
#include <time.h>

static inline int64_t clock_now_us(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t clock_now_ms(void)
{
	return clock_now_us() / 1000;
}
