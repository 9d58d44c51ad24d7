/*
 * clock: the monotonic clock in milliseconds, for intervals and
 * timings that a change of the wall clock must not disturb.
 */
#ifndef POSTAMT_UTIL_CLOCK_H
#define POSTAMT_UTIL_CLOCK_H

#include <time.h>

static inline double
clock_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
