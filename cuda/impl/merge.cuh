/*
 * impl/merge.cuh
 *	  Merging sorted candidate lists, and writing the answer.
 */
#ifndef HS_IMPL_MERGE_CUH
#define HS_IMPL_MERGE_CUH

#include <cuda_runtime.h>

#include "utils/keys.cuh"

/* lists one warp merges in a pass */
#define MERGE_FANIN 32

/*
 * Merge groups of fanin sorted lists: in [nq][nseg_in][k] -> out, list g of
 * query q at out + (q * out_stride + g) * k.  One warp per output list,
 * warp_list_keys(k) keys of dynamic shared memory per warp.
 */
__global__ void merge_kernel(const u64 *in, int nseg_in, int k, int fanin,
							 u64 *out, int out_stride, int nseg_out, int nq, u64 *bounds);

/* list 0 of each query (lists[q * stride * k ..]) -> k distances and rows;
 * one block per query */
__global__ void final_kernel(const u64 *__restrict__ lists, int stride, int k, int metric,
							 float *__restrict__ out_dist, long long *__restrict__ out_rows);

#endif							/* HS_IMPL_MERGE_CUH */
