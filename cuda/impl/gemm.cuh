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

/* the dot products of one chunk: small enough to stay in L2 */
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
 * Enqueue on m's stream the dot products of rows [row0, row0 + rows_c) with
 * the nq prepared queries (fp16 queries for an fp16 matrix) into the
 * context's dots buffer, leading dimension ldc.
 */
int			gemm_chunk(hs_gpu_matrix *m, long long row0, int rows_c, int nq, int ldc,
					   char *errbuf, size_t errlen);

#endif							/* HS_IMPL_GEMM_CUH */
