/*
 * impl/bench.h
 *	  The floors a matrix's searches are measured against
 *	  (hs_gpu_matrix_bench).
 */
#ifndef HS_IMPL_BENCH_H
#define HS_IMPL_BENCH_H

#include <stddef.h>

#include "hs_gpu.h"

/* hs_gpu_matrix_bench with the device's mutex held */
int			bench_locked(hs_gpu_matrix *m, int nq, int reps, float *read_ms, float *copy_ms,
						 float *gemm_ms, char *errbuf, size_t errlen);

#endif							/* HS_IMPL_BENCH_H */
