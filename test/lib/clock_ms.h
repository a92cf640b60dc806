/*
 * clock_ms.h
 *	  Milliseconds on the monotonic clock, for the test programs in C
 *	  (test/bench_blas.c, test/gpu/fake_cuda.c), which share no library.
 */
#ifndef HYBRIDSEARCH_TEST_CLOCK_MS_H
#define HYBRIDSEARCH_TEST_CLOCK_MS_H

#include <time.h>

static inline double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

#endif							/* HYBRIDSEARCH_TEST_CLOCK_MS_H */
