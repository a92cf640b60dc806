/*
 * impl/merge.cu
 *	  The merge passes after the fused or GEMM selection, and the final
 *	  conversion of keys into distances and row numbers (impl/merge.cuh).
 */
#include "hs_gpu.h"
#include "impl/merge.cuh"
#include "utils/warp_select.cuh"

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
	WarpList	w;

	if (task >= (long long) nq * nseg_out)
		return;
	int			q = (int) (task / nseg_out);
	int			group = (int) (task % nseg_out);
	int			seg_end = min(nseg_in, (group + 1) * fanin);

	wl_init(w, sm_merge + (size_t) warp * warp_list_keys(k), k, bounds + q);
	for (int seg_i = group * fanin; seg_i < seg_end; seg_i++)
	{
		const u64  *seg = in + ((size_t) q * nseg_in + seg_i) * k;

		for (int b = 0; b < k; b += 32)
		{
			int			i = b + lane;
			u64			key = (i < k) ? seg[i] : KEY_EMPTY;

			wl_insert(w, key, k, lane);
			/* lists are sorted: once a key reaches the threshold, the rest
			 * can't enter */
			if (__any_sync(FULL_MASK, key >= w.threshold))
				break;
		}
	}
	wl_finish(w, k, lane, out + ((size_t) q * out_stride + group) * k);
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
