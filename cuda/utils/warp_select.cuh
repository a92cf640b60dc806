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
 * Merges offer sorted runs (wl_insert_run), which skip the bitonic sort.
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
 * warp-uniform.  threshold is the smaller of list[k-1] once the list is full
 * and the shared bound last read (seen); only keys below it are taken.
 */
struct WarpList
{
	u64		   *list;			/* the sorted list, count valid */
	u64		   *spare;			/* the other buffer, the next merge's output */
	u64		   *pending;		/* npending unsorted keys */
	u64		   *bound;			/* this query's shared bound (device memory) */
	int			count;
	int			npending;
	u64			seen;			/* the shared bound as last read, exclusive */
	u64			threshold;
};

/*
 * The shared bound: any full list's k-th key B bounds the k-th key of the
 * answer (that list alone holds k rows at or below B), so every list of the
 * same query, in any block, chunk or merge level, may drop keys above B.
 * Keys equal to B must be kept (inclusive bound): the row holding B sits in
 * the list that published it and is offered again by the merge passes.
 * Keys are unique integers, so "key <= B" is the filter "key < B + 1".
 * Lists publish with atomicMin at each flush, without waiting for the old
 * value (a reduction, not a round trip to L2: a flush that waited for it
 * took about a microsecond, most of a merge step), and read the bound
 * (__ldcg) when they start and when their kernel prefetches it.
 */
static __device__ __forceinline__ u64
bound_excl(u64 b)
{
	return b == KEY_EMPTY ? KEY_EMPTY : b + 1;
}

/*
 * A list's k-th key t (KEY_EMPTY while it is not full) is published when it
 * tightens the bound last seen (seen, exclusive); the list's threshold is
 * then the tighter of the two.  bound may be NULL.
 */
static __device__ __forceinline__ u64
bound_publish(u64 *bound, u64 t, u64 seen, int lane)
{
	if (bound && t != KEY_EMPTY && bound_excl(t) < seen && lane == 0)
		atomicMin(bound, t);
	return min(t, seen);
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
	w.seen = bound ? bound_excl(__ldcg(bound)) : KEY_EMPTY;
	w.threshold = w.seen;
}

/* tighten with the shared bound b (inclusive), as read by the caller */
static __device__ __forceinline__ void
wl_bound(WarpList &w, u64 b)
{
	w.seen = min(w.seen, bound_excl(b));
	w.threshold = min(w.threshold, w.seen);
}

/* bitonic sort of the npending pending keys, padded to 64, one pair per lane */
static __device__ __forceinline__ void
wl_sort_pending(WarpList &w, int lane)
{
	__syncwarp();
	for (int i = w.npending + lane; i < WARP_LIST_PENDING; i += 32)
		w.pending[i] = KEY_EMPTY;
	__syncwarp();
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
}

/*
 * Merge the sorted pending keys into the list by rank (into spare, keeping
 * the first k), then publish the list's k-th key to the shared bound and
 * take the tighter of it and the bound last seen as the threshold.
 */
static __device__ __noinline__ void
wl_merge_pending(WarpList &w, int k, int lane)
{
	int			nout = min(k, w.count + w.npending);

	__syncwarp();
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
	w.threshold = bound_publish(w.bound, (w.count >= k) ? w.list[k - 1] : KEY_EMPTY, w.seen, lane);
}

/* sort the pending keys, merge them into the list, publish the k-th key */
static __device__ __noinline__ void
wl_flush(WarpList &w, int k, int lane)
{
	wl_sort_pending(w, lane);
	wl_merge_pending(w, k, lane);
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

/*
 * A run this long or longer, offered to an empty pending buffer, is merged
 * by rank at once, skipping the flush's bitonic sort (21 steps against the
 * rank merge's 5); shorter runs are appended and sorted with what follows.
 */
#define WARP_LIST_RUN_MIN 8

/*
 * offer a sorted run, lane i holding its i-th key (a chunk of a sorted
 * list, in a merge): the keys that pass are a prefix of the lanes, so a
 * long enough run needs no sort.  All 32 lanes call.
 */
static __device__ __forceinline__ void
wl_insert_run(WarpList &w, u64 key, int k, int lane)
{
	bool		pass = key < w.threshold;
	unsigned int m = __ballot_sync(FULL_MASK, pass);
	int			n = __popc(m);

	if (n >= WARP_LIST_RUN_MIN && w.npending == 0)
	{
		if (pass)
			w.pending[lane] = key;
		w.npending = n;
		wl_merge_pending(w, k, lane);
	}
	else if (n > 0)
	{
		if (pass)
			w.pending[w.npending + lane] = key;
		w.npending += n;
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

/*
 * Lists of at most 32 keys can live in registers instead, lane i holding
 * the i-th key.  Two such sorted lists a and b merge into the 32 smallest
 * of their union: min(a[i], b[31 - i]) is a bitonic sequence holding them,
 * and five compare-exchange stages over shuffles sort it.
 */
#define WARP_REG_KEYS 32

static __device__ __forceinline__ u64
warp_merge_sorted32(u64 a, u64 b, int lane)
{
	u64			c = min(a, __shfl_sync(FULL_MASK, b, 31 - lane));

#pragma unroll
	for (int stride = 16; stride > 0; stride >>= 1)
	{
		u64			other = __shfl_xor_sync(FULL_MASK, c, stride);

		c = (lane & stride) ? max(c, other) : min(c, other);
	}
	return c;
}

#endif							/* HS_UTILS_WARP_SELECT_CUH */
