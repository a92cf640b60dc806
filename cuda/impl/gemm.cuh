/*
 * impl/gemm.cuh
 *	  The GEMM path: cuBLAS query x row dot products per chunk of rows,
 *	  then a selecting kernel that keeps sorted top-k lists.
 */
#ifndef HS_IMPL_GEMM_CUH
#define HS_IMPL_GEMM_CUH

#include <stddef.h>
#include <cuda_runtime.h>

#include "hs_gpu.h"
#include "utils/keys.cuh"

/*
 * The dot products of one chunk, one of two buffers: one is selected (mostly
 * from L2) while the next chunk's product writes the other.  Buffers of
 * 16 MB made more and smaller products and measured slower (H200, 128
 * queries: 1.70 against 1.44 ms).
 */
#define GEMM_DIST_BYTES (32u << 20)

/*
 * dots[q * ldc + r] for r in [0, nrows_chunk) -> one sorted list per
 * (query, segment), written to out + (q * nseg_total + seg_offset + seg) * k;
 * one warp per (query, segment), warp_list_keys(k) keys of dynamic shared
 * memory per warp.
 */
__global__ void gemm_select_kernel(const float *__restrict__ dots, int ldc, int nrows_chunk,
								   long long row_base, const float *__restrict__ rnorm,
								   const float *__restrict__ qnorm, int metric, int nq, int k,
								   int seg_len, int nseg, u64 *__restrict__ out, int nseg_total,
								   int seg_offset, u64 *bounds);

/*
 * The sampled bound: before the first chunk's selection, the k-th smallest
 * of BOUND_SAMPLE_THREADS minima over BOUND_SAMPLE_RUNS rows each, a bound
 * on the answer's k-th key published to the shared bound.  The selection
 * then keeps only keys under it, so its lists stay short and the merges
 * after it have little to do.  Worth it (and used) only when k is small
 * against the minima and the chunk is large against the sample.
 */
#define BOUND_SAMPLE_THREADS 1024
#define BOUND_SAMPLE_RUNS 16
#define BOUND_SAMPLE_MAX_K 256
#define BOUND_SAMPLE_MIN_ROWS (4 * BOUND_SAMPLE_THREADS * BOUND_SAMPLE_RUNS)

/* one block of BOUND_SAMPLE_THREADS per query; nrows_chunk >=
 * BOUND_SAMPLE_THREADS * BOUND_SAMPLE_RUNS, k <= BOUND_SAMPLE_THREADS */
__global__ void gemm_sample_bound_kernel(const float *__restrict__ dots, int ldc, int nrows_chunk,
										 long long row_base, const float *__restrict__ rnorm,
										 const float *__restrict__ qnorm, int metric, int k,
										 u64 *bounds);

/*
 * Enqueue on m's stream the dot products of rows [row0, row0 + rows_c) with
 * the nq prepared queries (fp16 queries for an fp16 matrix) into dots,
 * leading dimension ldc.
 */
int			gemm_chunk(hs_gpu_matrix *m, long long row0, int rows_c, int nq, float *dots, int ldc,
					   char *errbuf, size_t errlen);

#endif							/* HS_IMPL_GEMM_CUH */
