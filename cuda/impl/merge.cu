/*
 * impl/merge.cu
 *	  The merge passes after the fused or GEMM selection, and the final
 *	  conversion of keys into distances and row numbers (impl/merge.cuh).
 */
#include "hs_gpu.h"
#include "impl/merge.cuh"
#include "utils/warp_select.cuh"

/* lane's key of chunk b of list seg_i, or KEY_EMPTY past the group's lists */
static __device__ __forceinline__ u64
list_chunk_key(const u64 *lists, int seg_i, int seg_end, int k, int b, int lane)
{
	int			i = b + lane;

	return (seg_i < seg_end && i < k) ? lists[(size_t) seg_i * k + i] : KEY_EMPTY;
}

/*
 * A warp merges its lists one after another, so their reads are the
 * critical path: the first chunk of each of the next MERGE_PREFETCH lists is
 * loaded before the current one is merged, and its latency overlaps that
 * merge.  The shared bound is read every MERGE_BOUND_EVERY lists and applied
 * that many lists later: read at one list and applied at the next, its
 * latency was most of a list's merge.
 */
#define MERGE_PREFETCH 4
#define MERGE_BOUND_EVERY 8

/* at every MERGE_BOUND_EVERY-th list: the value read so far, and a new read */
static __device__ __forceinline__ u64
refresh_bound(u64 *bound_read, const u64 *bound, int list_i)
{
	u64			b = *bound_read;

	if (list_i % MERGE_BOUND_EVERY != 0)
		return KEY_EMPTY;
	*bound_read = __ldcg(bound);
	return b;
}

/* the next list's first chunk joins the prefetch ring; returns the oldest */
static __device__ __forceinline__ u64
ring_next(u64 *ahead, const u64 *lists, int seg_i, int seg_end, int k, int lane)
{
	u64			key = ahead[0];

#pragma unroll
	for (int p = 0; p + 1 < MERGE_PREFETCH; p++)
		ahead[p] = ahead[p + 1];
	ahead[MERGE_PREFETCH - 1] = list_chunk_key(lists, seg_i + MERGE_PREFETCH, seg_end, k, 0, lane);
	return key;
}

/*
 * k <= 32: the running list in registers (warp_merge_sorted32), each list a
 * single run; a list whose first key is not below the threshold is skipped
 * whole.  The k-th key is published as a WarpList's is (bound_publish).
 */
static __device__ __forceinline__ void
merge_lists_in_registers(const u64 *lists, int seg_begin, int seg_end, int k, u64 *bound,
						 u64 *out, int lane)
{
	u64			ahead[MERGE_PREFETCH];
	u64			list = KEY_EMPTY;
	u64			seen = bound_excl(__ldcg(bound));
	u64			threshold = seen;
	u64			bound_read = KEY_EMPTY;

#pragma unroll
	for (int p = 0; p < MERGE_PREFETCH; p++)
		ahead[p] = list_chunk_key(lists, seg_begin + p, seg_end, k, 0, lane);
	for (int seg_i = seg_begin; seg_i < seg_end; seg_i++)
	{
		u64			key = ring_next(ahead, lists, seg_i, seg_end, k, lane);

		seen = min(seen, bound_excl(refresh_bound(&bound_read, bound, seg_i - seg_begin)));
		threshold = min(threshold, seen);
		if (__shfl_sync(FULL_MASK, key, 0) >= threshold)
			continue;
		list = warp_merge_sorted32(list, key, lane);
		threshold = bound_publish(bound, __shfl_sync(FULL_MASK, list, k - 1), seen, lane);
	}
	if (lane < k)
		out[lane] = list;
}

/* any k: a WarpList in shared memory, lists read in chunks of 32 keys */
static __device__ __forceinline__ void
merge_lists_in_smem(const u64 *lists, int seg_begin, int seg_end, int k, u64 *bound,
					u64 *smem, u64 *out, int lane)
{
	WarpList	w;
	u64			ahead[MERGE_PREFETCH];
	u64			bound_read = KEY_EMPTY;

	wl_init(w, smem, k, bound);
#pragma unroll
	for (int p = 0; p < MERGE_PREFETCH; p++)
		ahead[p] = list_chunk_key(lists, seg_begin + p, seg_end, k, 0, lane);
	for (int seg_i = seg_begin; seg_i < seg_end; seg_i++)
	{
		u64			key = ring_next(ahead, lists, seg_i, seg_end, k, lane);

		wl_bound(w, refresh_bound(&bound_read, bound, seg_i - seg_begin));
		for (int b = 0;;)
		{
			wl_insert_run(w, key, k, lane);
			/* lists are sorted: once a key reaches the threshold, the rest
			 * can't enter */
			b += 32;
			if (b >= k || __any_sync(FULL_MASK, key >= w.threshold))
				break;
			key = list_chunk_key(lists, seg_i, seg_end, k, b, lane);
		}
	}
	wl_finish(w, k, lane, out);
}

/*
 * In place is allowed when one warp merges all of a query's lists into its
 * list 0 (the running top-k of the GEMM path): the warp reads list 0 before
 * it writes it.
 */
__global__ void
merge_kernel(const u64 *in, int nseg_in, int k, int fanin,
			 u64 *out, int out_stride, int nseg_out, int nq, u64 *bounds)
{
	extern __shared__ u64 sm_merge[];
	int			warp = threadIdx.x >> 5;
	int			lane = threadIdx.x & 31;
	long long	task = (long long) blockIdx.x * (blockDim.x >> 5) + warp;

	if (task >= (long long) nq * nseg_out)
		return;
	int			q = (int) (task / nseg_out);
	int			group = (int) (task % nseg_out);
	int			seg_begin = group * fanin;
	int			seg_end = min(nseg_in, (group + 1) * fanin);
	const u64  *lists = in + (size_t) q * nseg_in * k;
	u64		   *list_out = out + ((size_t) q * out_stride + group) * k;

	if (k <= WARP_REG_KEYS)
		merge_lists_in_registers(lists, seg_begin, seg_end, k, bounds + q, list_out, lane);
	else
		merge_lists_in_smem(lists, seg_begin, seg_end, k, bounds + q,
							sm_merge + (size_t) warp * warp_list_keys(k), list_out, lane);
}

/* empty slots become row -1 and +inf; L2 ranks by the square and takes the
 * root only here */
__global__ void
final_kernel(const u64 *__restrict__ lists, int stride, int k, int metric,
			 float *__restrict__ out_dist, long long *__restrict__ out_rows)
{
	int			q = blockIdx.x;

	for (int i = threadIdx.x; i < k; i += blockDim.x)
	{
		u64			key = lists[(size_t) q * stride * k + i];
		size_t		o = (size_t) q * k + i;

		if (key == KEY_EMPTY)
		{
			out_dist[o] = __int_as_float(0x7f800000);
			out_rows[o] = -1;
		}
		else
		{
			float		d = ord2f((unsigned int) (key >> 32));

			if (metric == HS_GPU_L2 && d == d)
				d = sqrtf(fmaxf(d, 0.0f));
			out_dist[o] = d;
			out_rows[o] = (long long) (key & 0xffffffffull);
		}
	}
}
