/*
 * impl/fused_kernel.cuh
 *	  The fused distance + per-block top-k kernel, templated over the row
 *	  element type, and the table of its instantiations.
 *
 * Included only by impl/fused_f32.cu and impl/fused_f16.cu, one element
 * type each, so the 45 instantiations of each type build in parallel.
 *
 * One block computes, per step, a TQ x TR tile of distances between its TQ
 * queries and TR rows into shared memory, then each warp feeds the keys of
 * its queries into a WarpList; the block writes one sorted list per
 * (query, chunk of rows) for the merge passes (impl/merge.cu).
 */
#ifndef HS_IMPL_FUSED_KERNEL_CUH
#define HS_IMPL_FUSED_KERNEL_CUH

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <type_traits>

#include "hs_gpu.h"
#include "impl/fused.cuh"
#include "utils/distance.cuh"
#include "utils/keys.cuh"
#include "utils/warp_select.cuh"

/* A 16-byte vector of row elements: how many, and their fp32 values. */
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

/*
 * One block: TQ queries x rows [row_begin, row_end).  8 warps; a warp is
 * 32/LPR lane groups of LPR lanes, each group computes R rows per step,
 * splitting the row's 16-byte vectors among its lanes; a step covers
 * TR = fused_tile_rows(LPR, R) rows.  Warp w owns the lists of queries w,
 * w+8.
 */
template <typename T, int KIND, int TQ, int LPR, int R>
__global__ void __launch_bounds__(FUSED_THREADS)
fused_kernel(FusedArgs args)
{
	constexpr int GROUPS = 32 / LPR;
	constexpr int TR = fused_tile_rows(LPR, R);
	constexpr int VEC = RowVec<T>::N;
	constexpr int OWN = (TQ + FUSED_WARPS - 1) / FUSED_WARPS;	/* lists per warp */
	extern __shared__ __align__(16) unsigned char smem[];
	__shared__ float query_norms[TQ];

	const int	tid = threadIdx.x;
	const int	warp = tid >> 5;
	const int	lane = tid & 31;
	const int	group = lane / LPR;
	const int	group_lane = lane % LPR;
	const int	ld = args.ld;
	const int	k = args.k;
	const int	q0 = blockIdx.x * TQ;
	const int	chunk = blockIdx.y;
	const long long row_begin = (long long) chunk * args.rows_per_block;
	const long long row_end = min(args.nrows, row_begin + args.rows_per_block);
	const T    *rows = (const T *) args.rows;

	float	   *staged_queries = (float *) smem;
	u64		   *tiles = (u64 *) (smem + fused_smem_query_bytes(TQ, ld, args.qstaged));
	u64		   *lists = tiles + fused_smem_tile_keys(TQ, TR);
	const float *queries;

	if (args.qstaged)
	{
		const float4 *src = (const float4 *) (args.queries + (size_t) q0 * ld);
		float4	   *dst = (float4 *) staged_queries;

		for (int i = tid; i < TQ * ld / 4; i += FUSED_THREADS)
			dst[i] = src[i];
		queries = staged_queries;
	}
	else
		queries = args.queries + (size_t) q0 * ld;
	if (tid < TQ)
		query_norms[tid] = args.qnorm[q0 + tid];

	WarpList	wl[OWN];

#pragma unroll
	for (int i = 0; i < OWN; i++)
	{
		int			q = warp + FUSED_WARPS * i;

		if (q < TQ && q0 + q < args.nq)
			wl_init(wl[i], lists + (size_t) q * warp_list_keys(k), k, args.bounds + q0 + q);
	}
	__syncthreads();

	const int	nvec = ld / VEC;
	int			buf = 0;

	for (long long tile_row0 = row_begin; tile_row0 < row_end; tile_row0 += TR)
	{
		float		acc[TQ][R];
		const uint4 *row_ptr[R];
		long long	row_of[R];
		float		row_norm[R];
		u64			bound_now[OWN];

		/* loads whose latency would otherwise stall the tile's end */
#pragma unroll
		for (int i = 0; i < OWN; i++)
		{
			int			q = warp + FUSED_WARPS * i;

			bound_now[i] = (q < TQ && q0 + q < args.nq) ? __ldcg(args.bounds + q0 + q) : KEY_EMPTY;
		}
#pragma unroll
		for (int j = 0; j < R; j++)
		{
			row_of[j] = tile_row0 + j * (FUSED_WARPS * GROUPS) + warp * GROUPS + group;
			row_norm[j] = (KIND == K_DOT && args.metric == HS_GPU_COSINE && row_of[j] < row_end) ?
				args.rnorm[row_of[j]] : 0.0f;
			row_ptr[j] = (const uint4 *) (rows + (size_t) (row_of[j] < row_end ? row_of[j] : row_begin) * ld);
#pragma unroll
			for (int q = 0; q < TQ; q++)
				acc[q][j] = 0.0f;
		}

#pragma unroll 2
		for (int v = group_lane; v < nvec; v += LPR)
		{
			uint4		rv[R];

#pragma unroll
			for (int j = 0; j < R; j++)
				rv[j] = __ldg(row_ptr[j] + v);
#pragma unroll
			for (int q = 0; q < TQ; q++)
			{
				float		qf[VEC];
				const float4 *qp = (const float4 *) (queries + (size_t) q * ld + (size_t) v * VEC);

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
		 * distances -> keys in tile.  Every lane of a group holds all
		 * NV = TQ*R sums; group lane s finalizes values s, s+LPR, ...
		 * (picked by a select chain, so the finalization runs once per
		 * lane, not NV times with one lane active).
		 */
		u64		   *tile = tiles + (size_t) buf * TQ * TR;
		constexpr int NV = TQ * R;
		constexpr int PER = (NV + LPR - 1) / LPR;

#pragma unroll
		for (int t = 0; t < PER; t++)
		{
			const int	idx = t * LPR + group_lane;

			if (NV % LPR == 0 || idx < NV)
			{
				float		v = 0.0f,
							rnv = 0.0f;

#pragma unroll
				for (int c = 0; c < NV; c++)
					if (c / LPR == t)
					{
						v = (idx == c) ? acc[c / R][c % R] : v;
						rnv = (idx == c) ? row_norm[c % R] : rnv;
					}

				const int	q = idx / R;
				const int	j = idx - q * R;
				const int	tile_row = j * (FUSED_WARPS * GROUPS) + warp * GROUPS + group;
				const long long row = tile_row0 + tile_row;
				u64			key = KEY_EMPTY;

				if (row < row_end)
				{
					float		d = v;

					if (KIND == K_DOT)
						d = dist_from_dot(args.metric, d, query_norms[q], rnv);
					key = make_key(d, (unsigned int) row);
				}
				tile[q * TR + tile_row] = key;
			}
		}
		__syncthreads();

		/* selection: warp w takes the keys of its queries */
#pragma unroll
		for (int i = 0; i < OWN; i++)
		{
			int			q = warp + FUSED_WARPS * i;

			if (q < TQ && q0 + q < args.nq)
			{
				wl_bound(wl[i], bound_now[i]);
				for (int b = 0; b < TR; b += 32)
				{
					int			t = b + lane;
					u64			key = (t < TR) ? tile[q * TR + t] : KEY_EMPTY;

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

		if (q < TQ && q0 + q < args.nq)
			wl_finish(wl[i], k, lane,
					  args.cand + ((size_t) (q0 + q) * args.nchunks + chunk) * k);
	}
}

/*
 * Every (KIND, TQ, LPR, R) the host may choose: TQ in {1, 4, 8, 16} with
 * tiles of 16, 32 or 64 rows for long rows (LPR 32), LPR 4 (64-row tiles)
 * and LPR 1 (256-row tiles) for short ones.
 */
#define FUSED_VARIANT(KIND, TQ, LPR, R) \
	{ half, KIND, TQ, LPR, R, (const void *) fused_kernel<T, KIND, TQ, LPR, R> }
#define FUSED_VARIANTS_OF_KIND(KIND) \
	FUSED_VARIANT(KIND, 1, 32, 2), FUSED_VARIANT(KIND, 1, 32, 4), FUSED_VARIANT(KIND, 1, 32, 8), \
	FUSED_VARIANT(KIND, 4, 32, 2), FUSED_VARIANT(KIND, 4, 32, 4), FUSED_VARIANT(KIND, 4, 32, 8), \
	FUSED_VARIANT(KIND, 8, 32, 2), FUSED_VARIANT(KIND, 8, 32, 4), FUSED_VARIANT(KIND, 8, 32, 8), \
	FUSED_VARIANT(KIND, 16, 32, 2), FUSED_VARIANT(KIND, 16, 32, 4), \
	FUSED_VARIANT(KIND, 1, 4, 1), FUSED_VARIANT(KIND, 8, 4, 1), \
	FUSED_VARIANT(KIND, 1, 1, 1), FUSED_VARIANT(KIND, 8, 1, 1)

template <typename T>
int
fused_variant_table(const FusedVariant **out)
{
	constexpr int half = std::is_same<T, __half>::value;
	static const FusedVariant table[] = {
		FUSED_VARIANTS_OF_KIND(K_DOT), FUSED_VARIANTS_OF_KIND(K_L2), FUSED_VARIANTS_OF_KIND(K_L1)
	};

	*out = table;
	return (int) (sizeof(table) / sizeof(table[0]));
}

#undef FUSED_VARIANTS_OF_KIND
#undef FUSED_VARIANT

#endif							/* HS_IMPL_FUSED_KERNEL_CUH */
