/*
 * utils/warp_select.cuh
 *	  k-selection by one warp: a sorted top-k list of keys in shared memory.
 *
 * Every selecting kernel (fused, GEMM select, merge) feeds keys, one per
 * lane, into a WarpList.  A key is taken when it is below the list's
 * threshold (ballot + popc append into a pending buffer).  At 32 pending
 * keys the buffer is bitonic-sorted (64 entries, one pair per lane) and
 * merged into the list by rank (a binary search per element, into the
 * other of two buffers), so the list stays sorted without a full sort.
 *
 * A list takes warp_list_keys(k) keys of shared memory: the list, its
 * spare buffer and the pending buffer.  Hosts size shared memory with the
 * same function.
 */
#ifndef HS_UTILS_WARP_SELECT_CUH
#define HS_UTILS_WARP_SELECT_CUH

#include <cuda_runtime.h>

#include "utils/keys.cuh"

#define FULL_MASK	0xFFFFFFFFu
#define WARP_LIST_PENDING 64	/* pending buffer per list (entries) */

/* keys of shared memory one list needs: list, spare, pending */
static __host__ __device__ __forceinline__ int
warp_list_keys(int k)
{
	return 2 * k + WARP_LIST_PENDING;
}

/* number of elements of sorted a[0..n) smaller than x */
static __device__ __forceinline__ int
count_less(const u64 *a, int n, u64 x)
{
	int			lo = 0,
				hi = n;

	while (lo < hi)
	{
		int			mid = (lo + hi) >> 1;

		if (a[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * A sorted top-k list owned by one warp, in shared memory.  Every field is
 * warp-uniform.  threshold is list[k-1] once the list is full (tightened by
 * the shared bound), else KEY_EMPTY; only keys below it are taken.
 */
struct WarpList
{
	u64		   *list;			/* the sorted list, count valid */
	u64		   *spare;			/* the other buffer, the next merge's output */
	u64		   *pending;		/* npending unsorted keys */
	u64		   *bound;			/* this query's shared bound (device memory) */
	int			count;
	int			npending;
	u64			threshold;
};

/*
 * The shared bound: any full list's k-th key B bounds the k-th key of the
 * answer (that list alone holds k rows at or below B), so every list of the
 * same query, in any block, chunk or merge level, may drop keys above B.
 * Keys equal to B must be kept (inclusive bound): the row holding B sits in
 * the list that published it and is offered again by the merge passes.
 * Keys are unique integers, so "key <= B" is the filter "key < B + 1".
 * Lists publish with atomicMin at each flush and read the bound (L2,
 * __ldcg) when they start and periodically.
 */
static __device__ __forceinline__ u64
bound_excl(u64 b)
{
	return b == KEY_EMPTY ? KEY_EMPTY : b + 1;
}

/* base: warp_list_keys(k) keys of shared memory; bound may be NULL */
static __device__ __forceinline__ void
wl_init(WarpList &w, u64 *base, int k, u64 *bound)
{
	w.list = base;
	w.spare = base + k;
	w.pending = base + 2 * k;
	w.bound = bound;
	w.count = 0;
	w.npending = 0;
	w.threshold = bound ? bound_excl(__ldcg(bound)) : KEY_EMPTY;
}

/* tighten with the shared bound b (inclusive) */
static __device__ __forceinline__ void
wl_bound(WarpList &w, u64 b)
{
	w.threshold = min(w.threshold, bound_excl(b));
}

/* sort the pending keys, merge them into the list, publish the k-th key */
static __device__ __noinline__ void
wl_flush(WarpList &w, int k, int lane)
{
	__syncwarp();
	for (int i = w.npending + lane; i < WARP_LIST_PENDING; i += 32)
		w.pending[i] = KEY_EMPTY;
	__syncwarp();
	/* bitonic sort of the 64 pending entries, one pair per lane */
	for (int size = 2; size <= WARP_LIST_PENDING; size <<= 1)
	{
		for (int stride = size >> 1; stride > 0; stride >>= 1)
		{
			int			lo = 2 * stride * (lane / stride) + (lane % stride);
			int			hi = lo + stride;
			bool		asc = (lo & size) == 0;
			u64			a = w.pending[lo];
			u64			b = w.pending[hi];

			if ((a > b) == asc)
			{
				w.pending[lo] = b;
				w.pending[hi] = a;
			}
			__syncwarp();
		}
	}
	/* merge list (count) and pending (npending) by rank into spare, keep
	 * the first k */
	{
		int			nout = min(k, w.count + w.npending);

		for (int i = lane; i < w.count; i += 32)
		{
			u64			x = w.list[i];
			int			r = i + count_less(w.pending, w.npending, x);

			if (r < nout)
				w.spare[r] = x;
		}
		for (int i = lane; i < w.npending; i += 32)
		{
			u64			x = w.pending[i];
			int			r = i + count_less(w.list, w.count, x);

			if (r < nout)
				w.spare[r] = x;
		}
		__syncwarp();
		{
			u64		   *t = w.list;

			w.list = w.spare;
			w.spare = t;
		}
		w.count = nout;
		w.npending = 0;
		{
			u64			t = (w.count >= k) ? w.list[k - 1] : KEY_EMPTY;

			if (w.bound)
			{
				u64			old = 0;

				if (lane == 0)
					old = atomicMin(w.bound, t);
				old = __shfl_sync(FULL_MASK, old, 0);
				t = min(t, bound_excl(old));
			}
			w.threshold = t;
		}
	}
}

/* offer one key per lane (KEY_EMPTY offers nothing); all 32 lanes call */
static __device__ __forceinline__ void
wl_insert(WarpList &w, u64 key, int k, int lane)
{
	bool		pass = key < w.threshold;
	unsigned int m = __ballot_sync(FULL_MASK, pass);

	if (m)
	{
		if (pass)
			w.pending[w.npending + __popc(m & ((1u << lane) - 1u))] = key;
		w.npending += __popc(m);
		if (w.npending >= 32)
			wl_flush(w, k, lane);
	}
}

/* flush what is pending and write the k-entry sorted list to out */
static __device__ __forceinline__ void
wl_finish(WarpList &w, int k, int lane, u64 *out)
{
	if (w.npending > 0)
		wl_flush(w, k, lane);
	__syncwarp();
	for (int i = lane; i < k; i += 32)
		out[i] = (i < w.count) ? w.list[i] : KEY_EMPTY;
}

#endif							/* HS_UTILS_WARP_SELECT_CUH */
