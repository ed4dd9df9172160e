/*
 * now.c: clock_gettime() in the units Loka uses (see now.h).
 */
#include "util/now.h"

#include <time.h>

static int64_t
now_read(clockid_t id, int64_t per_second)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * per_second +
	    (int64_t)ts.tv_nsec / (1000000000 / per_second);
}

int64_t
now_mono_ms(void)
{
	return now_read(CLOCK_MONOTONIC, 1000);
}

int64_t
now_mono_us(void)
{
	return now_read(CLOCK_MONOTONIC, 1000000);
}

int64_t
now_wall_ms(void)
{
	return now_read(CLOCK_REALTIME, 1000);
}
