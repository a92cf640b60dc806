/*
 * hs_gpu.cu
 *	  CUDA kernels and host code of the hybridsearch GPU module.
 *
 * This one source is compiled three times (cuda/Makefile):
 *   HS_UNIT=0  the C API (hs_gpu.h), the autotuner, and the shared kernels
 *              (append/convert, query preparation, GEMM top-k selection,
 *              candidate merge, final conversion, read floor);
 *   HS_UNIT=1  the fused distance + per-block top-k kernels for fp32 rows;
 *   HS_UNIT=2  the same for fp16 rows.
 * so that the 90 fused instantiations compile in parallel.
 *
 * Search pipeline (see doc/gpu-kernels.md):
 *   fused path:  fused_kernel<T,KIND,TQ,LPR,R>  grid (query tiles, row chunks):
 *                each block computes a TQ x TR tile of distances per step
 *                into shared memory and keeps, per query, a sorted top-k list
 *                (warp-level threshold filter + bitonic-sorted pending buffer
 *                + rank merge); writes one sorted list per (query, chunk).
 *   GEMM path:   per chunk of rows, cublasGemmEx (fp32, or fp16 inputs with
 *                fp32 accumulation) writes query x row dot products; then
 *                gemm_select_kernel turns them into distances and keeps one
 *                sorted top-k list per (query, segment) per warp.
 *   both:        merge_kernel merges up to MERGE_FANIN sorted lists per warp
 *                until one list per query is left; final_kernel writes
 *                distances and row numbers.
 * Keys are 64 bits: an order-preserving image of the fp32 distance (NaN is
 * canonicalised to the largest) in the high half and the row number in the
 * low half, so ties break by row number and every key is unique.
 */
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hs_gpu.h"

#ifndef HS_UNIT
#define HS_UNIT 0
#endif

typedef unsigned long long u64;

#define KEY_EMPTY	0xFFFFFFFFFFFFFFFFull
#define FULL_MASK	0xFFFFFFFFu
#define PEND		64			/* pending buffer per list (entries) */
#define FUSED_THREADS 256
#define FUSED_WARPS 8
#define QSTAGE_MAX	(64 * 1024) /* stage the query tile in shared memory up to this */

enum { K_DOT = 0, K_L2 = 1, K_L1 = 2 };

/* One fused-kernel instantiation, as the host code sees it. */
struct FusedVariant
{
	int			half;			/* row storage fp16 */
	int			kind;			/* K_DOT, K_L2, K_L1 */
	int			tq;				/* queries per block */
	int			lpr;			/* lanes per row */
	int			r;				/* rows per lane group per step */
	const void *fn;
};

/* Parameters of the fused kernel (one struct keeps the launch simple). */
struct FusedArgs
{
	const void *rows;			/* nrows x ld, fp32 or fp16 */
	const float *rnorm;			/* squared row norms */
	long long	nrows;
	int			ld;
	const float *queries;		/* nq_pad x ld fp32 (zero padded) */
	const float *qnorm;			/* squared query norms */
	int			nq;
	int			k;
	long long	rows_per_block;
	int			metric;
	int			qstaged;
	u64		   *cand;			/* [nq][nchunks][k] */
	int			nchunks;
	u64		   *gthr;			/* per query: shared upper bound of the k-th key */
};

int			hs_fused_table_f32(const FusedVariant **out);
int			hs_fused_table_f16(const FusedVariant **out);

/* ------------------------------------------------------------------------ */
/* Device helpers shared by every unit                                       */
/* ------------------------------------------------------------------------ */

static __device__ __forceinline__ unsigned int
f2ord(float f)
{
	unsigned int u = __float_as_uint(f);

	if (f != f)
		u = 0x7fc00000u;		/* every NaN sorts last, after +inf */
	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static __device__ __forceinline__ u64
make_key(float d, unsigned int id)
{
	return ((u64) f2ord(d) << 32) | (u64) id;
}

/* distance from a dot product (GEMM path and the fused K_DOT kind) */
static __device__ __forceinline__ float
dist_from_dot(int metric, float dot, float qn, float rn)
{
	if (metric == HS_GPU_L2)
		return qn + rn - 2.0f * dot;
	if (metric == HS_GPU_NEG_IP)
		return -dot;
	/* cosine; rsqrtf (about 2 ulp) instead of sqrt and division: this is a
	 * candidate distance, re-scored exactly by the caller */
	{
		float		sim;

		if (!(qn > 0.0f) || !(rn > 0.0f))
			return __int_as_float(0x7fc00000);
		sim = dot * rsqrtf(qn) * rsqrtf(rn);
		sim = fminf(1.0f, fmaxf(-1.0f, sim));
		return 1.0f - sim;
	}
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
 * A sorted top-k list owned by one warp, in shared memory: A (current, nL
 * valid), B (the other buffer), P (pending, nP unsorted).  Every field is
 * warp-uniform.  thr is A[k-1] once the list is full, else KEY_EMPTY;
 * only keys below thr are taken.
 */
struct WarpList
{
	u64		   *A;
	u64		   *B;
	u64		   *P;
	u64		   *g;				/* this query's shared bound (device memory) */
	int			nL;
	int			nP;
	u64			thr;
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

static __device__ __forceinline__ void
wl_init(WarpList &w, u64 *base, int k, u64 *g)
{
	w.A = base;
	w.B = base + k;
	w.P = base + 2 * k;
	w.g = g;
	w.nL = 0;
	w.nP = 0;
	w.thr = g ? bound_excl(__ldcg(g)) : KEY_EMPTY;
}

/* tighten with the shared bound b (inclusive) */
static __device__ __forceinline__ void
wl_bound(WarpList &w, u64 b)
{
	w.thr = min(w.thr, bound_excl(b));
}

static __device__ __noinline__ void
wl_flush(WarpList &w, int k, int lane)
{
	__syncwarp();
	for (int i = w.nP + lane; i < PEND; i += 32)
		w.P[i] = KEY_EMPTY;
	__syncwarp();
	/* bitonic sort of the 64 pending entries, one pair per lane */
	for (int size = 2; size <= PEND; size <<= 1)
	{
		for (int stride = size >> 1; stride > 0; stride >>= 1)
		{
			int			lo = 2 * stride * (lane / stride) + (lane % stride);
			int			hi = lo + stride;
			bool		asc = (lo & size) == 0;
			u64			a = w.P[lo];
			u64			b = w.P[hi];

			if ((a > b) == asc)
			{
				w.P[lo] = b;
				w.P[hi] = a;
			}
			__syncwarp();
		}
	}
	/* merge A (nL) and P (nP) by rank into B, keep the first k */
	{
		int			nout = min(k, w.nL + w.nP);

		for (int i = lane; i < w.nL; i += 32)
		{
			u64			x = w.A[i];
			int			r = i + count_less(w.P, w.nP, x);

			if (r < nout)
				w.B[r] = x;
		}
		for (int i = lane; i < w.nP; i += 32)
		{
			u64			x = w.P[i];
			int			r = i + count_less(w.A, w.nL, x);

			if (r < nout)
				w.B[r] = x;
		}
		__syncwarp();
		{
			u64		   *t = w.A;

			w.A = w.B;
			w.B = t;
		}
		w.nL = nout;
		w.nP = 0;
		{
			u64			t = (w.nL >= k) ? w.A[k - 1] : KEY_EMPTY;

			if (w.g)
			{
				u64			old = 0;

				if (lane == 0)
					old = atomicMin(w.g, t);
				old = __shfl_sync(FULL_MASK, old, 0);
				t = min(t, bound_excl(old));
			}
			w.thr = t;
		}
	}
}

/* offer one key per lane (KEY_EMPTY offers nothing); all 32 lanes call */
static __device__ __forceinline__ void
wl_insert(WarpList &w, u64 key, int k, int lane)
{
	bool		pass = key < w.thr;
	unsigned int m = __ballot_sync(FULL_MASK, pass);

	if (m)
	{
		if (pass)
			w.P[w.nP + __popc(m & ((1u << lane) - 1u))] = key;
		w.nP += __popc(m);
		if (w.nP >= 32)
			wl_flush(w, k, lane);
	}
}

/* flush what is pending and write the k-entry sorted list to out */
static __device__ __forceinline__ void
wl_finish(WarpList &w, int k, int lane, u64 *out)
{
	if (w.nP > 0)
		wl_flush(w, k, lane);
	__syncwarp();
	for (int i = lane; i < k; i += 32)
		out[i] = (i < w.nL) ? w.A[i] : KEY_EMPTY;
}

/* ------------------------------------------------------------------------ */
/* Fused distance + per-block top-k kernel (units 1 and 2)                   */
/* ------------------------------------------------------------------------ */
#if HS_UNIT == 1 || HS_UNIT == 2

template <typename T> struct RowVec;

template <> struct RowVec<float>
{
	static constexpr int N = 4;
	static __device__ __forceinline__ void cvt(const uint4 &u, float *f)
	{
		f[0] = __uint_as_float(u.x);
		f[1] = __uint_as_float(u.y);
		f[2] = __uint_as_float(u.z);
		f[3] = __uint_as_float(u.w);
	}
};

template <> struct RowVec<__half>
{
	static constexpr int N = 8;
	static __device__ __forceinline__ void cvt(const uint4 &u, float *f)
	{
		__half2_raw r0, r1, r2, r3;

		r0.x = (unsigned short) (u.x & 0xffff); r0.y = (unsigned short) (u.x >> 16);
		r1.x = (unsigned short) (u.y & 0xffff); r1.y = (unsigned short) (u.y >> 16);
		r2.x = (unsigned short) (u.z & 0xffff); r2.y = (unsigned short) (u.z >> 16);
		r3.x = (unsigned short) (u.w & 0xffff); r3.y = (unsigned short) (u.w >> 16);
		float2		a = __half22float2(__half2(r0));
		float2		b = __half22float2(__half2(r1));
		float2		c = __half22float2(__half2(r2));
		float2		d = __half22float2(__half2(r3));

		f[0] = a.x; f[1] = a.y; f[2] = b.x; f[3] = b.y;
		f[4] = c.x; f[5] = c.y; f[6] = d.x; f[7] = d.y;
	}
};

template <int KIND>
static __device__ __forceinline__ float
acc_op(float a, float q, float r)
{
	if (KIND == K_DOT)
		return fmaf(q, r, a);
	if (KIND == K_L2)
	{
		float		d = q - r;

		return fmaf(d, d, a);
	}
	return a + fabsf(q - r);
}

/*
 * One block: TQ queries x rows [r0, r1).  8 warps; a warp is 32/LPR lane
 * groups of LPR lanes, each group computes R rows per step, splitting the
 * row's 16-byte vectors among its lanes; a step covers
 * TR = 8 * (32/LPR) * R rows.  Warp w owns the lists of queries w, w+8.
 */
template <typename T, int KIND, int TQ, int LPR, int R>
__global__ void __launch_bounds__(FUSED_THREADS)
fused_kernel(FusedArgs a)
{
	constexpr int GROUPS = 32 / LPR;
	constexpr int TR = FUSED_WARPS * GROUPS * R;
	constexpr int VEC = RowVec<T>::N;
	constexpr int OWN = (TQ + FUSED_WARPS - 1) / FUSED_WARPS;
	extern __shared__ __align__(16) unsigned char smem[];
	__shared__ float Qn[TQ];

	const int	tid = threadIdx.x;
	const int	warp = tid >> 5;
	const int	lane = tid & 31;
	const int	g = lane / LPR;
	const int	s = lane % LPR;
	const int	ld = a.ld;
	const int	k = a.k;
	const int	q0 = blockIdx.x * TQ;
	const int	chunk = blockIdx.y;
	const long long r0 = (long long) chunk * a.rows_per_block;
	const long long r1 = min(a.nrows, r0 + a.rows_per_block);
	const T    *rows = (const T *) a.rows;

	size_t		off = a.qstaged ? (size_t) TQ * ld * sizeof(float) : 0;
	float	   *Qs = (float *) smem;
	u64		   *Dt = (u64 *) (smem + off);
	u64		   *Ls = Dt + 2 * TQ * TR;
	const float *Qp;

	if (a.qstaged)
	{
		const float4 *src = (const float4 *) (a.queries + (size_t) q0 * ld);
		float4	   *dst = (float4 *) Qs;

		for (int i = tid; i < TQ * ld / 4; i += FUSED_THREADS)
			dst[i] = src[i];
		Qp = Qs;
	}
	else
		Qp = a.queries + (size_t) q0 * ld;
	if (tid < TQ)
		Qn[tid] = a.qnorm[q0 + tid];

	WarpList	wl[OWN];

#pragma unroll
	for (int i = 0; i < OWN; i++)
	{
		int			q = warp + FUSED_WARPS * i;

		if (q < TQ && q0 + q < a.nq)
			wl_init(wl[i], Ls + (size_t) q * (2 * k + PEND), k, a.gthr + q0 + q);
	}
	__syncthreads();

	const int	nvec = ld / VEC;
	int			buf = 0;

	for (long long tb = r0; tb < r1; tb += TR)
	{
		float		acc[TQ][R];
		const uint4 *rp[R];
		long long	rowj[R];
		float		rn[R];
		u64			gb[OWN];

		/* loads whose latency would otherwise stall the tile's end */
#pragma unroll
		for (int i = 0; i < OWN; i++)
		{
			int			q = warp + FUSED_WARPS * i;

			gb[i] = (q < TQ && q0 + q < a.nq) ? __ldcg(a.gthr + q0 + q) : KEY_EMPTY;
		}
#pragma unroll
		for (int j = 0; j < R; j++)
		{
			rowj[j] = tb + j * (FUSED_WARPS * GROUPS) + warp * GROUPS + g;
			rn[j] = (KIND == K_DOT && a.metric == HS_GPU_COSINE && rowj[j] < r1) ? a.rnorm[rowj[j]] : 0.0f;
			rp[j] = (const uint4 *) (rows + (size_t) (rowj[j] < r1 ? rowj[j] : r0) * ld);
#pragma unroll
			for (int q = 0; q < TQ; q++)
				acc[q][j] = 0.0f;
		}

#pragma unroll 2
		for (int v = s; v < nvec; v += LPR)
		{
			uint4		rv[R];

#pragma unroll
			for (int j = 0; j < R; j++)
				rv[j] = __ldg(rp[j] + v);
#pragma unroll
			for (int q = 0; q < TQ; q++)
			{
				float		qf[VEC];
				const float4 *qp = (const float4 *) (Qp + (size_t) q * ld + (size_t) v * VEC);

#pragma unroll
				for (int e = 0; e < VEC / 4; e++)
				{
					float4		t = qp[e];

					qf[4 * e] = t.x;
					qf[4 * e + 1] = t.y;
					qf[4 * e + 2] = t.z;
					qf[4 * e + 3] = t.w;
				}
#pragma unroll
				for (int j = 0; j < R; j++)
				{
					float		rf[VEC];

					RowVec<T>::cvt(rv[j], rf);
#pragma unroll
					for (int e = 0; e < VEC; e++)
						acc[q][j] = acc_op<KIND>(acc[q][j], qf[e], rf[e]);
				}
			}
		}

		/* sum over the lane group */
#pragma unroll
		for (int q = 0; q < TQ; q++)
#pragma unroll
			for (int j = 0; j < R; j++)
#pragma unroll
				for (int o = LPR / 2; o >= 1; o >>= 1)
					acc[q][j] += __shfl_xor_sync(FULL_MASK, acc[q][j], o);

		/*
		 * distances -> keys in Dt[buf].  Every lane of a group holds all
		 * NV = TQ*R sums; lane s finalizes values s, s+LPR, ... (picked by a
		 * select chain, so the finalization runs once per lane, not NV
		 * times with one lane active).
		 */
		u64		   *D = Dt + (size_t) buf * TQ * TR;
		constexpr int NV = TQ * R;
		constexpr int PER = (NV + LPR - 1) / LPR;

#pragma unroll
		for (int t = 0; t < PER; t++)
		{
			const int	idx = t * LPR + s;

			if (NV % LPR == 0 || idx < NV)
			{
				float		v = 0.0f,
							rnv = 0.0f;

#pragma unroll
				for (int c = 0; c < NV; c++)
					if (c / LPR == t)
					{
						v = (idx == c) ? acc[c / R][c % R] : v;
						rnv = (idx == c) ? rn[c % R] : rnv;
					}

				const int	q = idx / R;
				const int	j = idx - q * R;
				const int	rloc = j * (FUSED_WARPS * GROUPS) + warp * GROUPS + g;
				const long long row = tb + rloc;
				u64			key = KEY_EMPTY;

				if (row < r1)
				{
					float		d = v;

					if (KIND == K_DOT)
						d = dist_from_dot(a.metric, d, Qn[q], rnv);
					key = make_key(d, (unsigned int) row);
				}
				D[q * TR + rloc] = key;
			}
		}
		__syncthreads();

		/* selection: warp w takes the keys of its queries */
#pragma unroll
		for (int i = 0; i < OWN; i++)
		{
			int			q = warp + FUSED_WARPS * i;

			if (q < TQ && q0 + q < a.nq)
			{
				wl_bound(wl[i], gb[i]);
				for (int b = 0; b < TR; b += 32)
				{
					int			t = b + lane;
					u64			key = (t < TR) ? D[q * TR + t] : KEY_EMPTY;

					wl_insert(wl[i], key, k, lane);
				}
			}
		}
		buf ^= 1;
	}

#pragma unroll
	for (int i = 0; i < OWN; i++)
	{
		int			q = warp + FUSED_WARPS * i;

		if (q < TQ && q0 + q < a.nq)
			wl_finish(wl[i], k, lane,
					  a.cand + ((size_t) (q0 + q) * a.nchunks + chunk) * k);
	}
}

#if HS_UNIT == 1
#define ROW_T float
#define ROW_HALF 0
#define TABLE_FN hs_fused_table_f32
#else
#define ROW_T __half
#define ROW_HALF 1
#define TABLE_FN hs_fused_table_f16
#endif

#define FV(KIND, TQ, LPR, R) \
	{ ROW_HALF, KIND, TQ, LPR, R, (const void *) fused_kernel<ROW_T, KIND, TQ, LPR, R> }
#define FV_KIND(KIND) \
	FV(KIND, 1, 32, 2), FV(KIND, 1, 32, 4), FV(KIND, 1, 32, 8), \
	FV(KIND, 4, 32, 2), FV(KIND, 4, 32, 4), FV(KIND, 4, 32, 8), \
	FV(KIND, 8, 32, 2), FV(KIND, 8, 32, 4), FV(KIND, 8, 32, 8), \
	FV(KIND, 16, 32, 2), FV(KIND, 16, 32, 4), \
	FV(KIND, 1, 4, 1), FV(KIND, 8, 4, 1), \
	FV(KIND, 1, 1, 1), FV(KIND, 8, 1, 1)

static const FusedVariant fused_table[] = {
	FV_KIND(K_DOT), FV_KIND(K_L2), FV_KIND(K_L1)
};

int
TABLE_FN(const FusedVariant **out)
{
	*out = fused_table;
	return (int) (sizeof(fused_table) / sizeof(fused_table[0]));
}

#endif							/* HS_UNIT 1, 2 */

/* ------------------------------------------------------------------------ */
/* Unit 0: shared kernels, host code, the C API                              */
/* ------------------------------------------------------------------------ */
#if HS_UNIT == 0

#include <cublas_v2.h>
#include <pthread.h>
#include <signal.h>
#include <math.h>
#include <map>
#include <set>
#include <string>
#include <vector>
#include <algorithm>
#include <atomic>
#include <thread>

#define MERGE_FANIN 32
#define TUNE_MIN_ROWS 50000
#define TUNE_REPS 3
#define STAGE_BYTES (32u << 20)
#define GEMM_DIST_BYTES (32u << 20)

/* --- kernels ------------------------------------------------------------ */

static __device__ __forceinline__ float
ord2f(unsigned int o)
{
	unsigned int u = (o & 0x80000000u) ? (o & 0x7fffffffu) : ~o;

	return __uint_as_float(u);
}

/* shared memory of the fused kernel, in bytes (must match the layout in fused_kernel) */
static size_t
fused_smem_bytes(int tq, int tr, int ld, int k, int qstaged)
{
	size_t		q = qstaged ? (size_t) tq * ld * sizeof(float) : 0;

	return q + (size_t) 2 * tq * tr * 8 + (size_t) tq * (2 * k + PEND) * 8;
}

template <typename T> static __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }
static __device__ __forceinline__ float to_f(float v) { return v; }
static __device__ __forceinline__ float to_f(__half v) { return __half2float(v); }

/* new rows: src (n x dim fp32) -> dst (n x ld, zero padded), norms of the
 * stored values; one warp per row */
template <typename T>
__global__ void
append_kernel(const float *__restrict__ src, int dim, long long n, T *__restrict__ dst,
			  int ld, float *__restrict__ norms)
{
	long long	row = (long long) blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
	int			lane = threadIdx.x & 31;
	double		acc = 0.0;

	if (row >= n)
		return;
	for (int c = lane; c < ld; c += 32)
	{
		float		v = (c < dim) ? src[row * dim + c] : 0.0f;
		T			t = from_f<T>(v);
		double		b = (double) to_f(t);

		dst[row * ld + c] = t;
		acc += b * b;
	}
	for (int o = 16; o >= 1; o >>= 1)
		acc += __shfl_xor_sync(FULL_MASK, acc, o);
	if (lane == 0)
		norms[row] = (float) acc;
}

/* per query: squared norm of the fp32 query, of its fp16 rounding, and the
 * fp16 copy (q16 may be NULL); one warp per query, nq_pad queries */
__global__ void
prep_queries_kernel(const float *__restrict__ q, int nq_pad, int ld, float *__restrict__ qn32,
					float *__restrict__ qn16, __half *__restrict__ q16)
{
	int			qi = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
	int			lane = threadIdx.x & 31;
	double		a = 0.0,
				b = 0.0;

	if (qi >= nq_pad)
		return;
	for (int c = lane; c < ld; c += 32)
	{
		float		v = q[(size_t) qi * ld + c];
		__half		h = __float2half_rn(v);
		double		hv = (double) __half2float(h);

		a += (double) v * v;
		b += hv * hv;
		if (q16)
			q16[(size_t) qi * ld + c] = h;
	}
	for (int o = 16; o >= 1; o >>= 1)
	{
		a += __shfl_xor_sync(FULL_MASK, a, o);
		b += __shfl_xor_sync(FULL_MASK, b, o);
	}
	if (lane == 0)
	{
		qn32[qi] = (float) a;
		qn16[qi] = (float) b;
	}
}

/* GEMM path: dots[q * ldc + r] for r in [0, nrows_chunk) -> one sorted list
 * per (query, segment); one warp per (query, segment) */
__global__ void
gemm_select_kernel(const float *__restrict__ dots, int ldc, int nrows_chunk, long long row_base,
				   const float *__restrict__ rnorm, const float *__restrict__ qnorm,
				   int metric, int nq, int k, int seg_len, int nseg,
				   u64 *__restrict__ out, int nseg_total, int seg_offset, u64 *gthr)
{
	extern __shared__ u64 sm_sel[];
	int			warp = threadIdx.x >> 5;
	int			lane = threadIdx.x & 31;
	long long	task = (long long) blockIdx.x * (blockDim.x >> 5) + warp;
	WarpList	w;

	if (task >= (long long) nq * nseg)
		return;
	int			q = (int) (task / nseg);
	int			sg = (int) (task % nseg);
	int			s0 = sg * seg_len;
	int			s1 = min(nrows_chunk, s0 + seg_len);
	const float *col = dots + (size_t) q * ldc;
	float		qn = qnorm[q];

	wl_init(w, sm_sel + (size_t) warp * (2 * k + PEND), k, gthr + q);
	for (int b = s0; b < s1; b += 128)
	{
		int			r = b + lane * 4;
		float4		v = make_float4(0.f, 0.f, 0.f, 0.f);
		float4		n4 = make_float4(0.f, 0.f, 0.f, 0.f);

		if (((b - s0) & 1023) == 0)
			wl_bound(w, __ldcg(gthr + q));
		if (r + 3 < s1)
		{
			v = *(const float4 *) (col + r);
			if (metric != HS_GPU_NEG_IP)
				n4 = __ldg((const float4 *) (rnorm + row_base + r));
		}
		else
		{
			if (r < s1) { v.x = col[r]; n4.x = rnorm[row_base + r]; }
			if (r + 1 < s1) { v.y = col[r + 1]; n4.y = rnorm[row_base + r + 1]; }
			if (r + 2 < s1) { v.z = col[r + 2]; n4.z = rnorm[row_base + r + 2]; }
		}
		float		vv[4] = {v.x, v.y, v.z, v.w};
		float		nn[4] = {n4.x, n4.y, n4.z, n4.w};

#pragma unroll
		for (int e = 0; e < 4; e++)
		{
			u64			key = KEY_EMPTY;

			if (r + e < s1)
			{
				long long	row = row_base + r + e;

				key = make_key(dist_from_dot(metric, vv[e], qn, nn[e]), (unsigned int) row);
			}
			wl_insert(w, key, k, lane);
		}
	}
	wl_finish(w, k, lane, out + ((size_t) q * nseg_total + seg_offset + sg) * k);
}

/*
 * merge groups of fanin sorted lists: in [nq][nseg_in][k] -> out, list g of
 * query q at out + (q * out_stride + g) * k.  In place is allowed when one
 * warp merges all of a query's lists into its list 0 (the running top-k of
 * the GEMM path): the warp reads list 0 before it writes it.
 */
__global__ void
merge_kernel(const u64 *in, int nseg_in, int k, int fanin,
			 u64 *out, int out_stride, int nseg_out, int nq, u64 *gthr)
{
	extern __shared__ u64 sm_merge[];
	int			warp = threadIdx.x >> 5;
	int			lane = threadIdx.x & 31;
	long long	task = (long long) blockIdx.x * (blockDim.x >> 5) + warp;
	WarpList	w;

	if (task >= (long long) nq * nseg_out)
		return;
	int			q = (int) (task / nseg_out);
	int			g = (int) (task % nseg_out);
	int			send = min(nseg_in, (g + 1) * fanin);

	wl_init(w, sm_merge + (size_t) warp * (2 * k + PEND), k, gthr + q);
	for (int sgi = g * fanin; sgi < send; sgi++)
	{
		const u64  *seg = in + ((size_t) q * nseg_in + sgi) * k;

		for (int b = 0; b < k; b += 32)
		{
			int			i = b + lane;
			u64			key = (i < k) ? seg[i] : KEY_EMPTY;

			wl_insert(w, key, k, lane);
			/* lists are sorted: once a key reaches thr, the rest can't enter */
			if (__any_sync(FULL_MASK, key >= w.thr))
				break;
		}
	}
	wl_finish(w, k, lane, out + ((size_t) q * out_stride + g) * k);
}

__global__ void
final_kernel(const u64 *__restrict__ lists, int stride, int k, int metric, float *__restrict__ od,
			 long long *__restrict__ oi)
{
	int			q = blockIdx.x;

	for (int i = threadIdx.x; i < k; i += blockDim.x)
	{
		u64			key = lists[(size_t) q * stride * k + i];
		size_t		o = (size_t) q * k + i;

		if (key == KEY_EMPTY)
		{
			od[o] = __int_as_float(0x7f800000);
			oi[o] = -1;
		}
		else
		{
			float		d = ord2f((unsigned int) (key >> 32));

			if (metric == HS_GPU_L2 && d == d)
				d = sqrtf(fmaxf(d, 0.0f));
			od[o] = d;
			oi[o] = (long long) (key & 0xffffffffull);
		}
	}
}

/* read floor: every 16-byte word once */
__global__ void
read_kernel(const uint4 *__restrict__ p, long long n, unsigned int *sink)
{
	long long	i = (long long) blockIdx.x * blockDim.x + threadIdx.x;
	long long	stride = (long long) gridDim.x * blockDim.x;
	unsigned int x = 0;

	for (; i + 3 * stride < n; i += 4 * stride)
	{
		uint4		a = __ldcs(p + i);
		uint4		b = __ldcs(p + i + stride);
		uint4		c = __ldcs(p + i + 2 * stride);
		uint4		d = __ldcs(p + i + 3 * stride);

		x ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w;
		x ^= c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^ d.z ^ d.w;
	}
	for (; i < n; i += stride)
	{
		uint4		a = __ldcs(p + i);

		x ^= a.x ^ a.y ^ a.z ^ a.w;
	}
	if (x == 0x9e3779b9u)
		sink[0] = x;
}

/* pseudo-random fill (bench inputs; never zeros) */
__global__ void
fill_kernel(float *p, long long n, unsigned int seed)
{
	long long	i = (long long) blockIdx.x * blockDim.x + threadIdx.x;

	for (; i < n; i += (long long) gridDim.x * blockDim.x)
	{
		unsigned int h = (unsigned int) i * 2654435761u ^ seed;

		h ^= h >> 15;
		h *= 2246822519u;
		h ^= h >> 13;
		p[i] = (float) (h & 0xffff) / 32768.0f - 1.0f;
	}
}

/* --- host state --------------------------------------------------------- */

struct DBuf
{
	void	   *p;
	size_t		cap;
};

struct DevCtx;

struct hs_gpu_matrix
{
	DevCtx	   *ctx;			/* the device holding it */
	int			dim;
	int			ld;
	int			half;
	int64_t		rows;
	int64_t		cap;
	void	   *data;
	float	   *norms;
};

struct TuneKey
{
	int			device, dim, bucket, metric, half, kbucket, rbucket;

	bool operator<(const TuneKey &o) const
	{
		if (device != o.device) return device < o.device;
		if (rbucket != o.rbucket) return rbucket < o.rbucket;
		if (dim != o.dim) return dim < o.dim;
		if (bucket != o.bucket) return bucket < o.bucket;
		if (metric != o.metric) return metric < o.metric;
		if (half != o.half) return half < o.half;
		return kbucket < o.kbucket;
	}
};

struct Plan
{
	int			gemm;			/* 1: GEMM path */
	const FusedVariant *fv;		/* fused path */
};

struct TuneEntry
{
	Plan		plan;
	std::string report;
};

/*
 * One per device: its stream, cuBLAS handle, scratch buffers and autotune
 * cache.  mu serialises the calls on that device; the calls on different
 * devices run at once (hs_gpu_search_parts).
 */
struct DevCtx
{
	pthread_mutex_t mu;
	int			open;
	int			device;
	cudaStream_t stream;
	cublasHandle_t blas;
	cudaDeviceProp prop;
	cudaEvent_t ev0, ev1;
	cudaEvent_t stage_ev[2];
	DBuf		dq, dq16, dqn32, dqn16, candA, candB, dist, dout_d, dout_i, dstage[2], dsink, gthr;
	DBuf		hq, hout_d, hout_i, hstage[2];	/* pinned host */
	std::map<TuneKey, TuneEntry> *tune;
	std::map<const void *, size_t> *attr_set;	/* kernel -> dynamic smem limit */
	const FusedVariant *fused[2];
	int			nfused[2];
	char		last_variant[96];
};

static DevCtx devs[HS_GPU_MAX_DEVICES];
static pthread_once_t devs_once = PTHREAD_ONCE_INIT;
static std::atomic<int> last_device(0);	/* for hs_gpu_last_variant() */

static int
fail(char *eb, size_t el, int code, const char *fmt, ...)
{
	if (eb && el > 0)
	{
		va_list		ap;

		va_start(ap, fmt);
		vsnprintf(eb, el, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int
cuda_fail(char *eb, size_t el, cudaError_t e, const char *what)
{
	int			code = (e == cudaErrorMemoryAllocation) ? HS_GPU_ENOMEM : HS_GPU_ECUDA;

	return fail(eb, el, code, "hybridsearch cuda: %s: %s (%s)%s", what,
				cudaGetErrorString(e), cudaGetErrorName(e),
				code == HS_GPU_ENOMEM ? " [out of device memory]" : "");
}

static int
blas_fail(char *eb, size_t el, cublasStatus_t s, const char *what)
{
	int			code = (s == CUBLAS_STATUS_ALLOC_FAILED) ? HS_GPU_ENOMEM : HS_GPU_ECUDA;

	return fail(eb, el, code, "hybridsearch cublas: %s: %s (%d)%s", what,
				cublasGetStatusString(s), (int) s,
				code == HS_GPU_ENOMEM ? " [out of device memory]" : "");
}

#define CK(call, what) \
	do { cudaError_t e_ = (call); if (e_ != cudaSuccess) return cuda_fail(eb, el, e_, what); } while (0)
#define CKL(what) CK(cudaGetLastError(), what)

/*
 * Grow b to at least bytes: device memory, or pinned host memory for
 * staging.  Contents are not kept.  A device allocation retries at the exact
 * size before giving up.
 */
static int
buf_reserve(DBuf &b, size_t bytes, bool pinned_host, char *eb, size_t el, const char *what)
{
	cudaError_t e;
	size_t		nc;

	if (bytes <= b.cap)
		return 0;
	nc = std::max(bytes, b.cap + b.cap / 2);
	if (b.p)
	{
		if (pinned_host)
			cudaFreeHost(b.p);
		else
			cudaFree(b.p);
		b.p = NULL;
		b.cap = 0;
	}
	e = pinned_host ? cudaHostAlloc(&b.p, nc, cudaHostAllocDefault) : cudaMalloc(&b.p, nc);
	if (e != cudaSuccess && !pinned_host && nc > bytes)
	{
		cudaGetLastError();
		nc = bytes;
		e = cudaMalloc(&b.p, nc);
	}
	if (e != cudaSuccess)
	{
		cudaGetLastError();
		b.p = NULL;
		if (pinned_host)
			return fail(eb, el, HS_GPU_ENOMEM, "hybridsearch cuda: %s: pinned host allocation of %zu bytes failed: %s",
						what, nc, cudaGetErrorString(e));
		return cuda_fail(eb, el, e, what);
	}
	b.cap = nc;
	return 0;
}

static int
dbuf_reserve(DBuf &b, size_t bytes, char *eb, size_t el, const char *what)
{
	return buf_reserve(b, bytes, false, eb, el, what);
}

static int
hbuf_reserve(DBuf &b, size_t bytes, char *eb, size_t el, const char *what)
{
	return buf_reserve(b, bytes, true, eb, el, what);
}

static void
dbuf_free(DBuf &b)
{
	if (b.p)
		cudaFree(b.p);
	b.p = NULL;
	b.cap = 0;
}

static void
hbuf_free(DBuf &b)
{
	if (b.p)
		cudaFreeHost(b.p);
	b.p = NULL;
	b.cap = 0;
}

/* raise fn's dynamic shared memory limit to what the device allows beside
 * its static shared memory; *limit receives that limit */
static int
set_max_smem(DevCtx &g, const void *fn, size_t *limit, char *eb, size_t el)
{
	std::map<const void *, size_t>::iterator it = g.attr_set->find(fn);
	cudaFuncAttributes fa;
	size_t		lim;

	if (it != g.attr_set->end())
	{
		*limit = it->second;
		return 0;
	}
	CK(cudaFuncGetAttributes(&fa, fn), "cudaFuncGetAttributes");
	lim = g.prop.sharedMemPerBlockOptin - fa.sharedSizeBytes;
	CK(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int) lim),
	   "cudaFuncSetAttribute");
	(*g.attr_set)[fn] = lim;
	*limit = lim;
	return 0;
}

static inline long long cdiv(long long a, long long b) { return (a + b - 1) / b; }
static inline long long rup(long long a, long long b) { return cdiv(a, b) * b; }

static int
metric_kind(int metric)
{
	return metric == HS_GPU_L2 ? K_L2 : metric == HS_GPU_L1 ? K_L1 : K_DOT;
}

/* lanes per row for a row of nvec 16-byte vectors */
static int
lpr_class(const hs_gpu_matrix *m)
{
	int			nvec = m->ld / (m->half ? 8 : 4);

	return nvec <= 2 ? 1 : nvec <= 16 ? 4 : 32;
}

static void
plan_name(const Plan &p, char *buf, size_t len)
{
	if (p.gemm)
		snprintf(buf, len, "gemm+select");
	else
		snprintf(buf, len, "fused q%d r%d l%d (tile %d rows)", p.fv->tq, p.fv->r, p.fv->lpr,
				 FUSED_WARPS * (32 / p.fv->lpr) * p.fv->r);
}

/* --- search execution ----------------------------------------------------- */

struct Launch
{
	Plan		plan;
	int			nq, k, metric;
	/* fused */
	int			qstaged, nchunks;
	long long	rows_per_block;
	size_t		smem;
	/* gemm */
	long long	ch;
	int			ldc, nchunk_g, seg_len, nseg, sel_wpb, running;
	size_t		sel_smem;
	/* merge */
	int			nseg0, merge_wpb;
	size_t		merge_smem;
};

static int
merge_warps(DevCtx &g, int k, size_t *smem)
{
	size_t		per = (size_t) (2 * k + PEND) * 8;
	int			w = (int) std::min<size_t>(4, g.prop.sharedMemPerBlockOptin / per);

	if (w < 1)
		return 0;
	*smem = per * w;
	return w;
}

/* sizes, buffers and feasibility; 0 ok, -1 infeasible, else an error */
static int
prepare(hs_gpu_matrix *m, const Plan &plan, int metric, int nq, int k, Launch &L,
		char *eb, size_t el)
{
	DevCtx	   &g = *m->ctx;
	long long	n = m->rows;
	int			rc;
	size_t		lim;

	memset(&L, 0, sizeof(L));
	L.plan = plan;
	L.nq = nq;
	L.k = k;
	L.metric = metric;
	L.merge_wpb = merge_warps(g, k, &L.merge_smem);
	if (L.merge_wpb == 0)
		return -1;
	if ((rc = set_max_smem(g, (const void *) merge_kernel, &lim, eb, el)) != 0)
		return rc;

	if (!plan.gemm)
	{
		const FusedVariant *fv = plan.fv;
		int			tr = FUSED_WARPS * (32 / fv->lpr) * fv->r;
		int			occ = 0;
		int			nqt = (int) cdiv(nq, fv->tq);
		long long	target;

		if ((rc = set_max_smem(g, fv->fn, &lim, eb, el)) != 0)
			return rc;
		L.qstaged = (size_t) fv->tq * m->ld * sizeof(float) <= QSTAGE_MAX;
		L.smem = fused_smem_bytes(fv->tq, tr, m->ld, k, L.qstaged);
		if (L.smem > lim)
		{
			L.qstaged = 0;
			L.smem = fused_smem_bytes(fv->tq, tr, m->ld, k, 0);
			if (L.smem > lim)
				return -1;
		}
		CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, fv->fn, FUSED_THREADS, L.smem),
		   "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
		if (occ < 1)
			return -1;
		target = (long long) g.prop.multiProcessorCount * occ * 2;
		L.nchunks = (int) std::max(1LL, std::min(cdiv(n, tr), cdiv(target, nqt)));
		L.nchunks = std::min(L.nchunks, 65535);
		L.rows_per_block = rup(cdiv(n, L.nchunks), tr);
		L.nchunks = (int) cdiv(n, L.rows_per_block);
		L.nseg0 = L.nchunks;
	}
	else
	{
		long long	ch = (long long) (GEMM_DIST_BYTES / ((size_t) nq * 4));
		long long	min_seg;

		ch = ch / 256 * 256;
		ch = std::max(ch, 16384LL);
		ch = std::min(ch, rup(n, 256));
		L.ch = ch;
		L.ldc = (int) rup(ch, 4);
		L.nchunk_g = (int) cdiv(n, ch);
		min_seg = rup(std::max(512, 2 * k), 128);
		L.nseg = (int) std::max(1LL, std::min(cdiv(ch, min_seg),
											  cdiv((long long) g.prop.multiProcessorCount * 32, nq)));
		/*
		 * Several chunks: list 0 of each query is a running top-k that one
		 * warp merges with the chunk's lists after each chunk, so the shared
		 * bound is the k-th key of every row seen so far; the lists of a
		 * chunk are then at most MERGE_FANIN - 1.  One chunk: tree merge.
		 */
		L.running = L.nchunk_g > 1;
		if (L.running)
			L.nseg = std::min(L.nseg, MERGE_FANIN - 1);
		L.seg_len = (int) rup(cdiv(ch, L.nseg), 128);
		L.nseg = (int) cdiv(ch, L.seg_len);
		L.sel_wpb = merge_warps(g, k, &L.sel_smem);
		if ((rc = set_max_smem(g, (const void *) gemm_select_kernel, &lim, eb, el)) != 0)
			return rc;
		L.nseg0 = L.running ? 1 + L.nseg : L.nseg;
		if ((rc = dbuf_reserve(g.dist, (size_t) nq * L.ldc * 4, eb, el, "GEMM distance buffer")) != 0)
			return rc;
	}

	if ((rc = dbuf_reserve(g.candA, (size_t) nq * L.nseg0 * k * 8, eb, el, "candidate buffer")) != 0)
		return rc;
	if ((rc = dbuf_reserve(g.candB, (size_t) nq * std::max(1LL, cdiv(L.nseg0, MERGE_FANIN)) * k * 8,
						   eb, el, "candidate buffer")) != 0)
		return rc;
	if ((rc = dbuf_reserve(g.dout_d, (size_t) nq * k * 4, eb, el, "output buffer")) != 0)
		return rc;
	if ((rc = dbuf_reserve(g.gthr, (size_t) nq * 8, eb, el, "threshold buffer")) != 0)
		return rc;
	if ((rc = dbuf_reserve(g.dout_i, (size_t) nq * k * 8, eb, el, "output buffer")) != 0)
		return rc;
	return 0;
}

static int
gemm_chunk(hs_gpu_matrix *m, long long row0, int rows_c, int nq, int ldc, char *eb, size_t el)
{
	DevCtx	   &g = *m->ctx;
	const float alpha = 1.0f,
				beta = 0.0f;
	size_t		elt = m->half ? 2 : 4;
	const void *A = (const char *) m->data + (size_t) row0 * m->ld * elt;
	const void *B = m->half ? g.dq16.p : g.dq.p;
	cudaDataType_t ty = m->half ? CUDA_R_16F : CUDA_R_32F;
	cublasStatus_t s;

	s = cublasGemmEx(g.blas, CUBLAS_OP_T, CUBLAS_OP_N, rows_c, nq, m->ld, &alpha,
					 A, ty, m->ld, B, ty, m->ld, &beta, g.dist.p, CUDA_R_32F, ldc,
					 CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
	if (s != CUBLAS_STATUS_SUCCESS)
		return blas_fail(eb, el, s, "cublasGemmEx");
	return 0;
}

/* enqueue the whole search on g.stream; results in g.dout_d / g.dout_i */
static int
execute(hs_gpu_matrix *m, const Launch &L, char *eb, size_t el)
{
	DevCtx	   &g = *m->ctx;
	long long	n = m->rows;
	int			nq = L.nq,
				k = L.k;
	u64		   *cur = (u64 *) g.candA.p;
	u64		   *oth = (u64 *) g.candB.p;
	u64		   *gthr = (u64 *) g.gthr.p;
	int			nseg = L.nseg0;

	CK(cudaMemsetAsync(gthr, 0xff, (size_t) nq * 8, g.stream), "cudaMemsetAsync");
	if (!L.plan.gemm)
	{
		FusedArgs	a;
		void	   *args[1] = {&a};

		a.rows = m->data;
		a.rnorm = m->norms;
		a.nrows = n;
		a.ld = m->ld;
		a.queries = (const float *) g.dq.p;
		a.qnorm = (const float *) g.dqn32.p;
		a.nq = nq;
		a.k = k;
		a.rows_per_block = L.rows_per_block;
		a.metric = L.metric;
		a.qstaged = L.qstaged;
		a.cand = cur;
		a.nchunks = L.nchunks;
		a.gthr = gthr;
		CK(cudaLaunchKernel(L.plan.fv->fn, dim3((unsigned) cdiv(nq, L.plan.fv->tq), L.nchunks),
							dim3(FUSED_THREADS), args, L.smem, g.stream), "fused kernel launch");
		CKL("fused kernel");
	}
	else
	{
		const float *qn = (const float *) (m->half ? g.dqn16.p : g.dqn32.p);

		if (L.running)
			CK(cudaMemsetAsync(cur, 0xff, (size_t) nq * L.nseg0 * k * 8, g.stream), "cudaMemsetAsync");
		for (int c = 0; c < L.nchunk_g; c++)
		{
			long long	row0 = (long long) c * L.ch;
			int			rows_c = (int) std::min<long long>(L.ch, n - row0);
			long long	tasks = (long long) nq * L.nseg;
			int			rc;

			if ((rc = gemm_chunk(m, row0, rows_c, nq, L.ldc, eb, el)) != 0)
				return rc;
			gemm_select_kernel<<<(unsigned) cdiv(tasks, L.sel_wpb), 32 * L.sel_wpb, L.sel_smem, g.stream>>>(
				(const float *) g.dist.p, L.ldc, rows_c, row0, m->norms, qn, L.metric, nq, k,
				L.seg_len, L.nseg, cur, L.nseg0, L.running ? 1 : c * L.nseg, gthr);
			CKL("select kernel");
			if (L.running)
			{
				/* running top-k (list 0) += this chunk's lists, in place */
				merge_kernel<<<(unsigned) cdiv(nq, L.merge_wpb), 32 * L.merge_wpb, L.merge_smem, g.stream>>>(
					cur, L.nseg0, k, L.nseg0, cur, L.nseg0, 1, nq, gthr);
				CKL("merge kernel");
			}
		}
		if (L.running)
		{
			final_kernel<<<nq, 256, 0, g.stream>>>(cur, L.nseg0, k, L.metric, (float *) g.dout_d.p,
												   (long long *) g.dout_i.p);
			CKL("final kernel");
			return 0;
		}
	}

	while (nseg > 1)
	{
		int			nout = (int) cdiv(nseg, MERGE_FANIN);
		long long	tasks = (long long) nq * nout;

		merge_kernel<<<(unsigned) cdiv(tasks, L.merge_wpb), 32 * L.merge_wpb, L.merge_smem, g.stream>>>(
			cur, nseg, k, MERGE_FANIN, oth, nout, nout, nq, gthr);
		CKL("merge kernel");
		std::swap(cur, oth);
		nseg = nout;
	}
	final_kernel<<<nq, 256, 0, g.stream>>>(cur, 1, k, L.metric, (float *) g.dout_d.p,
										   (long long *) g.dout_i.p);
	CKL("final kernel");
	return 0;
}

/* --- variant choice --------------------------------------------------------- */

static const FusedVariant *
find_fused(DevCtx &g, int half, int kind, int tq, int lpr, int r)
{
	for (int i = 0; i < g.nfused[half]; i++)
	{
		const FusedVariant *v = &g.fused[half][i];

		if (v->kind == kind && v->tq == tq && v->lpr == lpr && v->r == r)
			return v;
	}
	return NULL;
}

static void
candidates(hs_gpu_matrix *m, int metric, int nq, std::vector<Plan> &out)
{
	DevCtx	   &g = *m->ctx;
	int			lpr = lpr_class(m);
	int			kind = metric_kind(metric);
	std::vector<int> tqs;
	int			hi = -1,
				lo = -1;

	for (int i = 0; i < g.nfused[m->half]; i++)
	{
		const FusedVariant *v = &g.fused[m->half][i];

		if (v->kind == kind && v->lpr == lpr &&
			std::find(tqs.begin(), tqs.end(), v->tq) == tqs.end())
			tqs.push_back(v->tq);
	}
	std::sort(tqs.begin(), tqs.end());
	for (size_t i = 0; i < tqs.size(); i++)
		if (tqs[i] >= nq || i + 1 == tqs.size())
		{
			hi = tqs[i];
			lo = (i > 0 && nq > 1) ? tqs[i - 1] : -1;
			break;
		}
	for (int i = 0; i < g.nfused[m->half]; i++)
	{
		const FusedVariant *v = &g.fused[m->half][i];

		if (v->kind == kind && v->lpr == lpr && (v->tq == hi || v->tq == lo))
		{
			Plan		p = {0, v};

			out.push_back(p);
		}
	}
	if (metric != HS_GPU_L1)
	{
		Plan		p = {1, NULL};

		out.push_back(p);
	}
}

static Plan
heuristic(hs_gpu_matrix *m, int metric, int nq)
{
	DevCtx	   &g = *m->ctx;
	int			lpr = lpr_class(m);
	int			kind = metric_kind(metric);
	const FusedVariant *v;
	Plan		p = {0, NULL};

	if (lpr == 32)
		v = find_fused(g, m->half, kind, nq == 1 ? 1 : nq <= 4 ? 4 : 8, 32, nq == 1 ? 4 : 2);
	else
		v = find_fused(g, m->half, kind, nq == 1 ? 1 : 8, lpr, 1);
	p.fv = v;
	return p;
}

static int
time_plan(hs_gpu_matrix *m, const Plan &p, int metric, int nq, int k, float *ms,
		  char *eb, size_t el)
{
	DevCtx	   &g = *m->ctx;
	Launch		L;
	int			rc = prepare(m, p, metric, nq, k, L, eb, el);
	float		best = 1e30f;

	if (rc != 0)
		return rc;
	if ((rc = execute(m, L, eb, el)) != 0)
		return rc;
	for (int i = 0; i < TUNE_REPS; i++)
	{
		float		t;

		CK(cudaEventRecord(g.ev0, g.stream), "cudaEventRecord");
		if ((rc = execute(m, L, eb, el)) != 0)
			return rc;
		CK(cudaEventRecord(g.ev1, g.stream), "cudaEventRecord");
		CK(cudaEventSynchronize(g.ev1), "autotune run");
		CK(cudaEventElapsedTime(&t, g.ev0, g.ev1), "cudaEventElapsedTime");
		best = std::min(best, t);
	}
	*ms = best;
	return 0;
}

static int
choose_plan(hs_gpu_matrix *m, int metric, int nq, int k, Plan *out, char *eb, size_t el)
{
	DevCtx	   &g = *m->ctx;
	TuneKey		key;
	std::vector<Plan> cands;
	std::map<TuneKey, TuneEntry>::iterator it;
	int			bucket = 0,
				kb = 0,
				rb = 0;

	while ((1 << bucket) < nq)
		bucket++;
	while (rb < 31 && (1LL << (2 * (rb + 1))) <= m->rows)
		rb++;					/* rows in [4^rb, 4^(rb+1)) */
	kb = k <= 32 ? 32 : k <= 128 ? 128 : k <= 512 ? 512 : HS_GPU_MAX_K;
	key.device = g.device;
	key.dim = m->dim;
	key.bucket = bucket;
	key.metric = metric;
	key.half = m->half;
	key.kbucket = kb;
	key.rbucket = rb;
	it = g.tune->find(key);
	if (it != g.tune->end())
	{
		*out = it->second.plan;
		return 0;
	}
	candidates(m, metric, nq, cands);
	if (m->rows < TUNE_MIN_ROWS || cands.size() <= 1)
	{
		*out = heuristic(m, metric, nq);
		if (!out->fv)
			return fail(eb, el, HS_GPU_ECUDA, "hybridsearch cuda: no kernel variant for dim %d", m->dim);
		return 0;
	}

	{
		TuneEntry	e;
		float		best = 1e30f;
		char		line[256];
		int			found = 0;

		snprintf(line, sizeof(line), "dev%d dim=%d nq<=%d metric=%d %s k<=%d rows<4^%d (tuned at nq=%d k=%d rows=%lld):",
				 g.device, m->dim, 1 << bucket, metric, m->half ? "fp16" : "fp32", kb, rb + 1, nq, k,
				 (long long) m->rows);
		e.report = line;
		for (size_t i = 0; i < cands.size(); i++)
		{
			float		ms = 0;
			char		name[64];
			int			rc = time_plan(m, cands[i], metric, nq, k, &ms, eb, el);

			plan_name(cands[i], name, sizeof(name));
			if (rc > 0)
				return rc;		/* a real error */
			if (rc < 0)
			{
				snprintf(line, sizeof(line), " [%s: infeasible]", name);
				e.report += line;
				continue;
			}
			snprintf(line, sizeof(line), " [%s %.3f ms]", name, ms);
			e.report += line;
			if (ms < best)
			{
				best = ms;
				e.plan = cands[i];
				found = 1;
			}
		}
		if (!found)
			return fail(eb, el, HS_GPU_ECUDA, "hybridsearch cuda: no feasible kernel variant (dim %d, k %d)",
						m->dim, k);
		{
			char		name[64];

			plan_name(e.plan, name, sizeof(name));
			e.report += " -> ";
			e.report += name;
		}
		(*g.tune)[key] = e;
		*out = e.plan;
	}
	return 0;
}

/* --- the C API -------------------------------------------------------------- */

#define API extern "C" __attribute__((visibility("default")))

/*
 * Threads that the CUDA runtime, cuBLAS or hs_gpu_search_parts start take
 * the signal mask of the thread that starts them, and the host process's
 * handlers (PostgreSQL's, which assume its main thread) must never run on
 * them.  Every call that reaches CUDA blocks all signals while it runs, so
 * any thread it starts begins with every signal blocked.
 */
struct SignalsBlocked
{
	sigset_t	saved;

	SignalsBlocked()
	{
		sigset_t	all;

		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &saved);
	}
	~SignalsBlocked()
	{
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
	}
};

static void
init_devs(void)
{
	for (int i = 0; i < HS_GPU_MAX_DEVICES; i++)
		pthread_mutex_init(&devs[i].mu, NULL);
}

/* *out = devs[device], its mutex held, when that device is open */
static int
lock_device(int device, DevCtx **out, char *eb, size_t el)
{
	DevCtx	   *ctx = NULL;

	pthread_once(&devs_once, init_devs);
	if (device < 0 || device >= HS_GPU_MAX_DEVICES)
		return fail(eb, el, HS_GPU_EINVAL, "hybridsearch cuda: device %d out of range 0..%d", device,
					HS_GPU_MAX_DEVICES - 1);
	ctx = &devs[device];
	pthread_mutex_lock(&ctx->mu);
	if (!ctx->open)
	{
		pthread_mutex_unlock(&ctx->mu);
		return fail(eb, el, HS_GPU_ESTATE, "hybridsearch cuda: device %d is not open", device);
	}
	*out = ctx;
	return 0;
}

/* *out = m's device, its mutex held */
static int
lock_matrix(const hs_gpu_matrix *m, DevCtx **out, char *eb, size_t el)
{
	if (!m)
		return fail(eb, el, HS_GPU_EINVAL, "hybridsearch cuda: no matrix");
	return lock_device(m->ctx->device, out, eb, el);
}

static void
close_locked(DevCtx &g)
{
	if (!g.open)
		return;
	cudaSetDevice(g.device);
	cudaStreamSynchronize(g.stream);
	dbuf_free(g.dq);
	dbuf_free(g.dq16);
	dbuf_free(g.dqn32);
	dbuf_free(g.dqn16);
	dbuf_free(g.candA);
	dbuf_free(g.candB);
	dbuf_free(g.dist);
	dbuf_free(g.dout_d);
	dbuf_free(g.dout_i);
	dbuf_free(g.dstage[0]);
	dbuf_free(g.dstage[1]);
	dbuf_free(g.dsink);
	dbuf_free(g.gthr);
	hbuf_free(g.hq);
	hbuf_free(g.hout_d);
	hbuf_free(g.hout_i);
	hbuf_free(g.hstage[0]);
	hbuf_free(g.hstage[1]);
	if (g.blas)
		cublasDestroy(g.blas);
	g.blas = NULL;
	if (g.ev0) cudaEventDestroy(g.ev0);
	if (g.ev1) cudaEventDestroy(g.ev1);
	if (g.stage_ev[0]) cudaEventDestroy(g.stage_ev[0]);
	if (g.stage_ev[1]) cudaEventDestroy(g.stage_ev[1]);
	g.ev0 = g.ev1 = g.stage_ev[0] = g.stage_ev[1] = NULL;
	if (g.stream)
		cudaStreamDestroy(g.stream);
	g.stream = NULL;
	delete g.tune;
	delete g.attr_set;
	g.tune = NULL;
	g.attr_set = NULL;
	g.open = 0;
}

static int
open_locked(DevCtx &g, int device, char *eb, size_t el)
{
	int			count = 0;
	cublasStatus_t s;

	if (g.open)
		return 0;
	CK(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
	if (device < 0 || device >= count)
		return fail(eb, el, HS_GPU_EINVAL, "hybridsearch cuda: no device %d (%d present)", device, count);
	CK(cudaSetDevice(device), "cudaSetDevice");
	CK(cudaGetDeviceProperties(&g.prop, device), "cudaGetDeviceProperties");
	g.device = device;
	g.open = 1;					/* from here close_locked() cleans up */
	g.tune = new std::map<TuneKey, TuneEntry>();
	g.attr_set = new std::map<const void *, size_t>();
	g.nfused[0] = hs_fused_table_f32(&g.fused[0]);
	g.nfused[1] = hs_fused_table_f16(&g.fused[1]);
	{
		int			rc = 0;
		cudaError_t e;

		if ((e = cudaStreamCreateWithFlags(&g.stream, cudaStreamNonBlocking)) != cudaSuccess ||
			(e = cudaEventCreate(&g.ev0)) != cudaSuccess ||
			(e = cudaEventCreate(&g.ev1)) != cudaSuccess ||
			(e = cudaEventCreateWithFlags(&g.stage_ev[0], cudaEventDisableTiming)) != cudaSuccess ||
			(e = cudaEventCreateWithFlags(&g.stage_ev[1], cudaEventDisableTiming)) != cudaSuccess)
			rc = cuda_fail(eb, el, e, "creating stream/events");
		else if ((s = cublasCreate(&g.blas)) != CUBLAS_STATUS_SUCCESS)
		{
			g.blas = NULL;
			rc = blas_fail(eb, el, s, "cublasCreate");
		}
		else if ((s = cublasSetStream(g.blas, g.stream)) != CUBLAS_STATUS_SUCCESS)
			rc = blas_fail(eb, el, s, "cublasSetStream");
		else if ((s = cublasSetMathMode(g.blas, CUBLAS_DEFAULT_MATH)) != CUBLAS_STATUS_SUCCESS)
			rc = blas_fail(eb, el, s, "cublasSetMathMode");
		else
			rc = dbuf_reserve(g.dsink, 256, eb, el, "sink");
		if (rc != 0)
		{
			close_locked(g);
			return rc;
		}
	}
	snprintf(g.last_variant, sizeof(g.last_variant), "none");
	return 0;
}

API int
hs_gpu_device_count(int *count, char *errbuf, size_t errlen)
{
	SignalsBlocked blocked;
	cudaError_t e = cudaGetDeviceCount(count);

	if (e != cudaSuccess)
	{
		*count = 0;
		cudaGetLastError();
		return cuda_fail(errbuf, errlen, e, "cudaGetDeviceCount");
	}
	return 0;
}

API int
hs_gpu_open(int device, char *errbuf, size_t errlen)
{
	SignalsBlocked blocked;
	DevCtx	   *ctx = NULL;
	int			rc;

	pthread_once(&devs_once, init_devs);
	if (device < 0 || device >= HS_GPU_MAX_DEVICES)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: device %d out of range 0..%d",
					device, HS_GPU_MAX_DEVICES - 1);
	ctx = &devs[device];
	pthread_mutex_lock(&ctx->mu);
	rc = open_locked(*ctx, device, errbuf, errlen);
	pthread_mutex_unlock(&ctx->mu);
	return rc;
}

API void
hs_gpu_close(void)
{
	SignalsBlocked blocked;
	pthread_once(&devs_once, init_devs);
	for (int i = 0; i < HS_GPU_MAX_DEVICES; i++)
	{
		pthread_mutex_lock(&devs[i].mu);
		close_locked(devs[i]);
		pthread_mutex_unlock(&devs[i].mu);
	}
}

API hs_gpu_matrix *
hs_gpu_matrix_create(int device, int dim, int half_precision, char *errbuf, size_t errlen)
{
	DevCtx	   *ctx = NULL;
	hs_gpu_matrix *m;

	if (dim < 1 || dim > HS_GPU_MAX_DIM)
	{
		fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: dimension %d out of range 1..%d",
			 dim, HS_GPU_MAX_DIM);
		return NULL;
	}
	if (lock_device(device, &ctx, errbuf, errlen) != 0)
		return NULL;
	pthread_mutex_unlock(&ctx->mu);
	m = (hs_gpu_matrix *) calloc(1, sizeof(*m));
	if (!m)
	{
		fail(errbuf, errlen, HS_GPU_ENOMEM, "hybridsearch cuda: out of host memory");
		return NULL;
	}
	m->ctx = ctx;
	m->dim = dim;
	m->ld = (int) rup(dim, 8);
	m->half = half_precision ? 1 : 0;
	return m;
}

API int64_t
hs_gpu_matrix_rows(const hs_gpu_matrix *m)
{
	return m ? m->rows : 0;
}

API size_t
hs_gpu_matrix_bytes(const hs_gpu_matrix *m)
{
	if (!m)
		return 0;
	return (size_t) m->cap * m->ld * (m->half ? 2 : 4) + (size_t) m->cap * 4;
}

API void
hs_gpu_matrix_free(hs_gpu_matrix *m)
{
	SignalsBlocked blocked;
	DevCtx	   *ctx = NULL;

	if (!m)
		return;
	ctx = m->ctx;
	pthread_mutex_lock(&ctx->mu);
	cudaSetDevice(ctx->device);
	if (ctx->open)
		cudaStreamSynchronize(ctx->stream);
	if (m->data)
		cudaFree(m->data);
	if (m->norms)
		cudaFree(m->norms);
	pthread_mutex_unlock(&ctx->mu);
	free(m);
}

static int
grow_locked(hs_gpu_matrix *m, int64_t need, char *eb, size_t el)
{
	DevCtx	   &g = *m->ctx;
	size_t		elt = m->half ? 2 : 4;
	int64_t		want = std::max<int64_t>(need, std::max<int64_t>(m->cap * 2, 1024));
	void	   *nd = NULL;
	float	   *nn = NULL;
	cudaError_t e;

	want = std::min<int64_t>(want, HS_GPU_MAX_ROWS);
	for (;;)
	{
		e = cudaMalloc(&nd, (size_t) want * m->ld * elt);
		if (e == cudaSuccess)
		{
			e = cudaMalloc((void **) &nn, (size_t) want * 4);
			if (e != cudaSuccess)
			{
				cudaFree(nd);
				nd = NULL;
			}
		}
		if (e == cudaSuccess)
			break;
		cudaGetLastError();
		if (want == need)
			return cuda_fail(eb, el, e, "growing the device matrix");
		want = need;			/* geometric growth did not fit: exact */
	}
	if (m->rows > 0)
	{
		CK(cudaMemcpyAsync(nd, m->data, (size_t) m->rows * m->ld * elt, cudaMemcpyDeviceToDevice,
						   g.stream), "copying the matrix");
		CK(cudaMemcpyAsync(nn, m->norms, (size_t) m->rows * 4, cudaMemcpyDeviceToDevice, g.stream),
		   "copying the norms");
	}
	e = cudaStreamSynchronize(g.stream);
	if (e != cudaSuccess)
	{
		cudaFree(nd);
		cudaFree(nn);
		return cuda_fail(eb, el, e, "copying the matrix");
	}
	if (m->data)
		cudaFree(m->data);
	if (m->norms)
		cudaFree(m->norms);
	m->data = nd;
	m->norms = nn;
	m->cap = want;
	return 0;
}

static int
append_locked(hs_gpu_matrix *m, const float *rows, int64_t nrows, char *eb, size_t el)
{
	DevCtx	   &g = *m->ctx;
	int64_t		chunk = std::max<int64_t>(1, STAGE_BYTES / ((size_t) m->dim * 4));
	int			rc;

	if (nrows < 0 || (nrows > 0 && !rows))
		return fail(eb, el, HS_GPU_EINVAL, "hybridsearch cuda: bad rows argument");
	if (nrows == 0)
		return 0;
	if (m->rows + nrows > HS_GPU_MAX_ROWS)
		return fail(eb, el, HS_GPU_EINVAL, "hybridsearch cuda: more than %lld rows",
					(long long) HS_GPU_MAX_ROWS);
	CK(cudaSetDevice(g.device), "cudaSetDevice");
	if (m->rows + nrows > m->cap && (rc = grow_locked(m, m->rows + nrows, eb, el)) != 0)
		return rc;
	chunk = std::min(chunk, nrows);
	for (int i = 0; i < 2; i++)
	{
		if ((rc = hbuf_reserve(g.hstage[i], (size_t) chunk * m->dim * 4, eb, el, "append staging")) != 0)
			return rc;
		if ((rc = dbuf_reserve(g.dstage[i], (size_t) chunk * m->dim * 4, eb, el, "append staging")) != 0)
			return rc;
	}
	for (int64_t off = 0, it = 0; off < nrows; off += chunk, it++)
	{
		int			b = (int) (it & 1);
		int64_t		n = std::min(chunk, nrows - off);
		int64_t		row0 = m->rows + off;

		CK(cudaEventSynchronize(g.stage_ev[b]), "append staging");
		memcpy(g.hstage[b].p, rows + (size_t) off * m->dim, (size_t) n * m->dim * 4);
		CK(cudaMemcpyAsync(g.dstage[b].p, g.hstage[b].p, (size_t) n * m->dim * 4,
						   cudaMemcpyHostToDevice, g.stream), "copying rows to the device");
		if (m->half)
			append_kernel<__half><<<(unsigned) cdiv(n, 8), 256, 0, g.stream>>>(
				(const float *) g.dstage[b].p, m->dim, n,
				(__half *) m->data + (size_t) row0 * m->ld, m->ld, m->norms + row0);
		else
			append_kernel<float><<<(unsigned) cdiv(n, 8), 256, 0, g.stream>>>(
				(const float *) g.dstage[b].p, m->dim, n,
				(float *) m->data + (size_t) row0 * m->ld, m->ld, m->norms + row0);
		CKL("append kernel");
		CK(cudaEventRecord(g.stage_ev[b], g.stream), "cudaEventRecord");
	}
	CK(cudaStreamSynchronize(g.stream), "appending rows");
	m->rows += nrows;
	return 0;
}

API int
hs_gpu_matrix_append(hs_gpu_matrix *m, const float *rows, int64_t nrows,
					 char *errbuf, size_t errlen)
{
	SignalsBlocked blocked;
	DevCtx	   *ctx = NULL;
	int			rc;

	if ((rc = lock_matrix(m, &ctx, errbuf, errlen)) != 0)
		return rc;
	rc = append_locked(m, rows, nrows, errbuf, errlen);
	pthread_mutex_unlock(&ctx->mu);
	return rc;
}

static int
search_locked(hs_gpu_matrix *m, int metric, const float *queries, int nq, int k,
			  float *out_d, int64_t *out_i, float *kernel_ms, char *eb, size_t el)
{
	DevCtx	   &g = *m->ctx;
	int64_t		n = m->rows;
	int			nq_pad;
	int			rc;
	Plan		plan;
	Launch		L;
	float		ms = 0.0f;

	if (metric < HS_GPU_L2 || metric > HS_GPU_L1)
		return fail(eb, el, HS_GPU_EINVAL, "hybridsearch cuda: unknown metric %d", metric);
	if (k < 1 || k > HS_GPU_MAX_K)
		return fail(eb, el, HS_GPU_EINVAL, "hybridsearch cuda: k = %d out of range 1..%d", k, HS_GPU_MAX_K);
	if (nq < 0 || (nq > 0 && (!queries || !out_d || !out_i)))
		return fail(eb, el, HS_GPU_EINVAL, "hybridsearch cuda: bad query or output arguments");
	if (kernel_ms)
		*kernel_ms = 0.0f;
	if (nq == 0)
		return 0;
	if (n == 0)
	{
		for (size_t i = 0; i < (size_t) nq * k; i++)
		{
			out_d[i] = INFINITY;
			out_i[i] = -1;
		}
		snprintf(g.last_variant, sizeof(g.last_variant), "empty");
		last_device = g.device;
		return 0;
	}
	CK(cudaSetDevice(g.device), "cudaSetDevice");
	nq_pad = (int) rup(nq, 16);
	if ((rc = hbuf_reserve(g.hq, (size_t) nq_pad * m->ld * 4, eb, el, "query staging")) != 0 ||
		(rc = dbuf_reserve(g.dq, (size_t) nq_pad * m->ld * 4, eb, el, "query buffer")) != 0 ||
		(rc = dbuf_reserve(g.dq16, (size_t) nq_pad * m->ld * 2, eb, el, "query buffer")) != 0 ||
		(rc = dbuf_reserve(g.dqn32, (size_t) nq_pad * 4, eb, el, "query norms")) != 0 ||
		(rc = dbuf_reserve(g.dqn16, (size_t) nq_pad * 4, eb, el, "query norms")) != 0 ||
		(rc = hbuf_reserve(g.hout_d, (size_t) nq * k * 4, eb, el, "result staging")) != 0 ||
		(rc = hbuf_reserve(g.hout_i, (size_t) nq * k * 8, eb, el, "result staging")) != 0)
		return rc;
	{
		float	   *hq = (float *) g.hq.p;

		memset(hq, 0, (size_t) nq_pad * m->ld * 4);
		for (int q = 0; q < nq; q++)
			memcpy(hq + (size_t) q * m->ld, queries + (size_t) q * m->dim, (size_t) m->dim * 4);
	}
	CK(cudaMemcpyAsync(g.dq.p, g.hq.p, (size_t) nq_pad * m->ld * 4, cudaMemcpyHostToDevice, g.stream),
	   "copying queries");
	prep_queries_kernel<<<(unsigned) cdiv(nq_pad, 8), 256, 0, g.stream>>>(
		(const float *) g.dq.p, nq_pad, m->ld, (float *) g.dqn32.p, (float *) g.dqn16.p,
		m->half ? (__half *) g.dq16.p : NULL);
	CKL("query preparation kernel");

	if ((rc = choose_plan(m, metric, nq, k, &plan, eb, el)) != 0)
		return rc;
	rc = prepare(m, plan, metric, nq, k, L, eb, el);
	if (rc < 0 && !plan.gemm)
	{
		/* the chosen variant does not fit (large k): the smallest query tile */
		Plan		p1 = {0, find_fused(g, m->half, metric_kind(metric), 1, lpr_class(m),
										 lpr_class(m) == 32 ? 2 : 1)};

		plan = p1;
		rc = p1.fv ? prepare(m, plan, metric, nq, k, L, eb, el) : -1;
	}
	if (rc < 0)
		return fail(eb, el, HS_GPU_EINVAL, "hybridsearch cuda: k = %d does not fit in shared memory", k);
	if (rc > 0)
		return rc;
	CK(cudaEventRecord(g.ev0, g.stream), "cudaEventRecord");
	if ((rc = execute(m, L, eb, el)) != 0)
		return rc;
	CK(cudaEventRecord(g.ev1, g.stream), "cudaEventRecord");
	CK(cudaMemcpyAsync(g.hout_d.p, g.dout_d.p, (size_t) nq * k * 4, cudaMemcpyDeviceToHost, g.stream),
	   "copying results");
	CK(cudaMemcpyAsync(g.hout_i.p, g.dout_i.p, (size_t) nq * k * 8, cudaMemcpyDeviceToHost, g.stream),
	   "copying results");
	CK(cudaStreamSynchronize(g.stream), "search");
	CK(cudaEventElapsedTime(&ms, g.ev0, g.ev1), "cudaEventElapsedTime");
	memcpy(out_d, g.hout_d.p, (size_t) nq * k * 4);
	memcpy(out_i, g.hout_i.p, (size_t) nq * k * 8);
	if (kernel_ms)
		*kernel_ms = ms;
	plan_name(plan, g.last_variant, sizeof(g.last_variant));
	last_device = g.device;
	return 0;
}

API int
hs_gpu_search(hs_gpu_matrix *m, int metric, const float *queries, int nqueries, int k,
			  float *out_distances, int64_t *out_rows, float *kernel_ms,
			  char *errbuf, size_t errlen)
{
	SignalsBlocked blocked;
	DevCtx	   *ctx = NULL;
	int			rc;

	if ((rc = lock_matrix(m, &ctx, errbuf, errlen)) != 0)
		return rc;
	rc = search_locked(m, metric, queries, nqueries, k, out_distances, out_rows, kernel_ms,
					   errbuf, errlen);
	pthread_mutex_unlock(&ctx->mu);
	return rc;
}

/* One part's search, run on a thread of its own. */
struct PartSearch
{
	hs_gpu_matrix *m;
	std::vector<float> d;
	std::vector<int64_t> rows;
	float		ms;
	int			rc;
	char		msg[256];
};

/*
 * The order of hs_gpu_search's results: distance, then row; NaN distances
 * after every other; empty slots (row -1) last.
 */
struct Candidate
{
	float		d;
	int64_t		row;

	int rank() const { return row < 0 ? 2 : d != d ? 1 : 0; }
	bool operator<(const Candidate &o) const
	{
		if (rank() != o.rank()) return rank() < o.rank();
		if (rank() == 0 && d != o.d) return d < o.d;
		return row < o.row;
	}
};

/* Merge the parts' lists of one query; part p's row r is row r * nparts + p. */
static void
merge_parts(const std::vector<PartSearch> &ps, int q, int k, float *out_d, int64_t *out_i)
{
	int			nparts = (int) ps.size();
	std::vector<Candidate> all;

	all.reserve((size_t) nparts * k);
	for (int p = 0; p < nparts; p++)
		for (int i = 0; i < k; i++)
		{
			Candidate	c = {ps[p].d[(size_t) q * k + i], ps[p].rows[(size_t) q * k + i]};

			if (c.row >= 0)
				c.row = c.row * nparts + p;
			all.push_back(c);
		}
	std::partial_sort(all.begin(), all.begin() + k, all.end());
	for (int i = 0; i < k; i++)
	{
		out_d[(size_t) q * k + i] = all[i].d;
		out_i[(size_t) q * k + i] = all[i].row;
	}
}

API int
hs_gpu_search_parts(hs_gpu_matrix *const *parts, int nparts, int metric, const float *queries,
					int nqueries, int k, float *out_distances, int64_t *out_rows,
					float *kernel_ms, char *errbuf, size_t errlen)
{
	SignalsBlocked blocked;
	std::vector<PartSearch> ps;
	std::vector<std::thread> threads;
	int			failed = -1;

	if (nparts < 1 || nparts > HS_GPU_MAX_PARTS || !parts)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: %d parts out of range 1..%d",
					nparts, HS_GPU_MAX_PARTS);
	if (nparts == 1)
		return hs_gpu_search(parts[0], metric, queries, nqueries, k, out_distances, out_rows,
							 kernel_ms, errbuf, errlen);
	if (k < 1 || k > HS_GPU_MAX_K || nqueries < 0)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: bad k or query count");
	try
	{
		ps.resize(nparts);
		for (int p = 0; p < nparts; p++)
		{
			ps[p].m = parts[p];
			ps[p].d.resize((size_t) nqueries * k);
			ps[p].rows.resize((size_t) nqueries * k);
		}
		for (int p = 0; p < nparts; p++)
			threads.emplace_back([&, p]()
			{
				PartSearch &s = ps[p];

				s.rc = hs_gpu_search(s.m, metric, queries, nqueries, k, s.d.data(), s.rows.data(),
									 &s.ms, s.msg, sizeof(s.msg));
			});
		for (std::thread &t : threads)
			t.join();
	}
	catch (const std::exception &e)
	{
		for (std::thread &t : threads)
			if (t.joinable())
				t.join();
		return fail(errbuf, errlen, HS_GPU_ENOMEM, "hybridsearch cuda: searching the parts: %s",
					e.what());
	}
	/* a CUDA failure wins: the caller resets the devices after it */
	for (int p = 0; p < nparts; p++)
		if (ps[p].rc != 0 && (failed < 0 || ps[p].rc == HS_GPU_ECUDA))
			failed = p;
	if (failed >= 0)
		return fail(errbuf, errlen, ps[failed].rc, "%s", ps[failed].msg);
	for (int q = 0; q < nqueries; q++)
		merge_parts(ps, q, k, out_distances, out_rows);
	if (kernel_ms)
	{
		*kernel_ms = 0.0f;
		for (int p = 0; p < nparts; p++)
			*kernel_ms = std::max(*kernel_ms, ps[p].ms);
	}
	return 0;
}

API size_t
hs_gpu_tune_report(char *buf, size_t buflen)
{
	std::string s;

	pthread_once(&devs_once, init_devs);
	for (int d = 0; d < HS_GPU_MAX_DEVICES; d++)
	{
		DevCtx	   &g = devs[d];

		pthread_mutex_lock(&g.mu);
		if (g.open)
			for (std::map<TuneKey, TuneEntry>::iterator it = g.tune->begin(); it != g.tune->end(); ++it)
			{
				s += it->second.report;
				s += "\n";
			}
		pthread_mutex_unlock(&g.mu);
	}
	if (buflen == 0)
		return 0;
	size_t		n = std::min(s.size(), buflen - 1);

	memcpy(buf, s.data(), n);
	buf[n] = 0;
	return n;
}

API size_t
hs_gpu_last_variant(char *buf, size_t buflen)
{
	size_t		n;

	if (buflen == 0)
		return 0;
	pthread_once(&devs_once, init_devs);

	DevCtx	   &g = devs[last_device.load()];

	pthread_mutex_lock(&g.mu);
	n = std::min(strlen(g.last_variant), buflen - 1);
	memcpy(buf, g.last_variant, n);
	buf[n] = 0;
	pthread_mutex_unlock(&g.mu);
	return n;
}

static float
median(std::vector<float> &v)
{
	std::sort(v.begin(), v.end());
	return v.empty() ? -1.0f : v[v.size() / 2];
}

static int
bench_locked(hs_gpu_matrix *m, int nq, int reps, float *read_ms, float *copy_ms, float *gemm_ms,
			 char *eb, size_t el)
{
	DevCtx	   &g = *m->ctx;
	size_t		bytes = (size_t) m->rows * m->ld * (m->half ? 2 : 4);
	std::vector<float> t;
	float		ms;
	void	   *scratch = NULL;
	cudaError_t e;

	*read_ms = *copy_ms = *gemm_ms = -1.0f;
	if (m->rows == 0 || reps < 1)
		return fail(eb, el, HS_GPU_EINVAL, "hybridsearch cuda: nothing to bench");
	CK(cudaSetDevice(g.device), "cudaSetDevice");
	for (int i = -1; i < reps; i++)
	{
		CK(cudaEventRecord(g.ev0, g.stream), "cudaEventRecord");
		read_kernel<<<g.prop.multiProcessorCount * 8, 256, 0, g.stream>>>(
			(const uint4 *) m->data, (long long) (bytes / 16), (unsigned int *) g.dsink.p);
		CKL("read kernel");
		CK(cudaEventRecord(g.ev1, g.stream), "cudaEventRecord");
		CK(cudaEventSynchronize(g.ev1), "read kernel");
		CK(cudaEventElapsedTime(&ms, g.ev0, g.ev1), "cudaEventElapsedTime");
		if (i >= 0)
			t.push_back(ms);
	}
	*read_ms = median(t);
	t.clear();

	e = cudaMalloc(&scratch, bytes);
	if (e == cudaSuccess)
	{
		for (int i = -1; i < reps; i++)
		{
			CK(cudaEventRecord(g.ev0, g.stream), "cudaEventRecord");
			CK(cudaMemcpyAsync(scratch, m->data, bytes, cudaMemcpyDeviceToDevice, g.stream), "copy floor");
			CK(cudaEventRecord(g.ev1, g.stream), "cudaEventRecord");
			CK(cudaEventSynchronize(g.ev1), "copy floor");
			CK(cudaEventElapsedTime(&ms, g.ev0, g.ev1), "cudaEventElapsedTime");
			if (i >= 0)
				t.push_back(ms);
		}
		*copy_ms = median(t);
		t.clear();
		cudaFree(scratch);
	}
	else
		cudaGetLastError();

	if (nq >= 1)
	{
		Launch		L;
		Plan		p = {1, NULL};
		int			nq_pad = (int) rup(nq, 16);
		int			rc;

		if ((rc = dbuf_reserve(g.dq, (size_t) nq_pad * m->ld * 4, eb, el, "query buffer")) != 0 ||
			(rc = dbuf_reserve(g.dq16, (size_t) nq_pad * m->ld * 2, eb, el, "query buffer")) != 0 ||
			(rc = dbuf_reserve(g.dqn32, (size_t) nq_pad * 4, eb, el, "query norms")) != 0 ||
			(rc = dbuf_reserve(g.dqn16, (size_t) nq_pad * 4, eb, el, "query norms")) != 0)
			return rc;
		fill_kernel<<<256, 256, 0, g.stream>>>((float *) g.dq.p, (long long) nq_pad * m->ld, 12345u);
		CKL("fill kernel");
		prep_queries_kernel<<<(unsigned) cdiv(nq_pad, 8), 256, 0, g.stream>>>(
			(const float *) g.dq.p, nq_pad, m->ld, (float *) g.dqn32.p, (float *) g.dqn16.p,
			(__half *) g.dq16.p);
		CKL("query preparation kernel");
		if ((rc = prepare(m, p, HS_GPU_NEG_IP, nq, 10, L, eb, el)) != 0)
			return rc < 0 ? fail(eb, el, HS_GPU_EINVAL, "gemm infeasible") : rc;
		for (int i = -1; i < reps; i++)
		{
			CK(cudaEventRecord(g.ev0, g.stream), "cudaEventRecord");
			for (int c = 0; c < L.nchunk_g; c++)
			{
				long long	row0 = (long long) c * L.ch;
				int			rows_c = (int) std::min<long long>(L.ch, m->rows - row0);

				if ((rc = gemm_chunk(m, row0, rows_c, nq, L.ldc, eb, el)) != 0)
					return rc;
			}
			CK(cudaEventRecord(g.ev1, g.stream), "cudaEventRecord");
			CK(cudaEventSynchronize(g.ev1), "gemm floor");
			CK(cudaEventElapsedTime(&ms, g.ev0, g.ev1), "cudaEventElapsedTime");
			if (i >= 0)
				t.push_back(ms);
		}
		*gemm_ms = median(t);
	}
	return 0;
}

API int
hs_gpu_matrix_bench(hs_gpu_matrix *m, int nqueries, int reps, float *read_ms, float *copy_ms,
					float *gemm_ms, char *errbuf, size_t errlen)
{
	SignalsBlocked blocked;
	DevCtx	   *ctx = NULL;
	int			rc;

	if (!read_ms || !copy_ms || !gemm_ms)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: bad bench arguments");
	if ((rc = lock_matrix(m, &ctx, errbuf, errlen)) != 0)
		return rc;
	rc = bench_locked(m, nqueries, reps, read_ms, copy_ms, gemm_ms, errbuf, errlen);
	pthread_mutex_unlock(&ctx->mu);
	return rc;
}

#endif							/* HS_UNIT == 0 */
