/*
 * now.h: the clocks Loka reads. Monotonic time for deadlines, timeouts
 * and durations (never goes back); wall time for what is stored or shown
 * (unix epoch).
 */
#ifndef LOKA_UTIL_NOW_H
#define LOKA_UTIL_NOW_H

#include <stdint.h>

int64_t now_mono_ms(void);
int64_t now_mono_us(void);
int64_t now_wall_ms(void);

#endif
