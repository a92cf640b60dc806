/*
 * impl/tensor_kernel.cuh
 *	  The tensor-core distance + per-block top-k kernel (impl/tensor.cuh),
 *	  templated over the row element type, and its table of instantiations.
 *
 * Included only by impl/tensor_f32.cu and impl/tensor_f16.cu, one element
 * type each.
 *
 * Fragments straight from memory.  A dot product does not depend on the
 * order of its terms, so the mma's k positions may be any permutation of
 * the row's elements, provided rows and queries use the same one.  Lane
 * (g = lane / 4, t = lane % 4) loads one 16-byte vector of row g (and of
 * row g + 8) at byte 16 t of each 64-byte chunk, and the same vector of
 * query g from shared memory; the vector's four 32-bit words are the
 * lane's A and B registers of two mma steps.  So the rows go from global
 * memory to the tensor cores with no shared-memory staging and no shuffle,
 * and a warp's load covers 64 contiguous bytes of each of 8 rows.
 *
 * The loads are asynchronous copies (cp.async) into a ring of the warp's
 * own in shared memory, each lane reading back only what it copied, so no
 * barrier guards the ring, and the copies of the next groups of chunks
 * stay in flight while the warp multiplies, keys and selects.  On the H200
 * that took a batch of 32 (1M x 768 fp16, k 10) from 0.754 to 0.578 ms
 * (cosine) and from 0.733 to 0.536 ms (L2) against loads into registers;
 * it still reads at about 60% of the bandwidth (doc/gpu-kernels.md, "The
 * tensor path").
 */
#ifndef HS_IMPL_TENSOR_KERNEL_CUH
#define HS_IMPL_TENSOR_KERNEL_CUH

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <type_traits>

#include "hs_gpu.h"
#include "impl/tensor.cuh"
#include "utils/distance.cuh"
#include "utils/keys.cuh"
#include "utils/warp_select.cuh"

/*
 * One mma step, c (16 x 8, fp32) += A (rows) x B (query), of the shape and
 * types SHAPE names: the operands are laid out alike for fp16 and TF32.
 */
#define TENSOR_MMA_STEP(SHAPE, c, a0, a1, a2, a3, b0, b1) \
	asm volatile("mma.sync.aligned." SHAPE " {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n" \
				 : "+f"((c)[0]), "+f"((c)[1]), "+f"((c)[2]), "+f"((c)[3]) \
				 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1))

/*
 * For each element type: a loaded vector made ready for the tensor cores
 * (prepare), and one mma step (m16n8k16 for fp16, m16n8k8 for TF32).
 */
template <typename T> struct TensorOps;

template <> struct TensorOps<__half>
{
	static __device__ __forceinline__ uint4 prepare(uint4 v) { return v; }

	static __device__ __forceinline__ void
	mma_step(float *c, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1)
	{
		TENSOR_MMA_STEP("m16n8k16.row.col.f32.f16.f16.f32", c, a0, a1, a2, a3, b0, b1);
	}
};

/* fp32 -> TF32, rounded to nearest (the hardware would drop the low bits) */
static __device__ __forceinline__ unsigned int
tf32_round(unsigned int x)
{
	unsigned int r;

	asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(__uint_as_float(x)));
	return r;
}

template <> struct TensorOps<float>
{
	static __device__ __forceinline__ uint4 prepare(uint4 v)
	{
		return make_uint4(tf32_round(v.x), tf32_round(v.y), tf32_round(v.z), tf32_round(v.w));
	}

	static __device__ __forceinline__ void
	mma_step(float *c, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1)
	{
		TENSOR_MMA_STEP("m16n8k8.row.col.f32.tf32.tf32.f32", c, a0, a1, a2, a3, b0, b1);
	}
};

#undef TENSOR_MMA_STEP

/*
 * One chunk of a row pair (rows g and g + 8: lo, hi) times one query's
 * chunk (b): two mma steps, words 0-1 of each vector then words 2-3.  A
 * step's A registers are (row g, k lo), (row g + 8, k lo), (row g, k hi),
 * (row g + 8, k hi) and its B registers (k lo), (k hi), where k lo / k hi
 * are k 2t.. / 8 + 2t.. (fp16) or k t / t + 4 (TF32): the same word of
 * row and query always meets the same k.
 */
template <typename T>
static __device__ __forceinline__ void
mma_chunk(float *c, const uint4 &lo, const uint4 &hi, const uint4 &b)
{
	TensorOps<T>::mma_step(c, lo.x, hi.x, lo.y, hi.y, b.x, b.y);
	TensorOps<T>::mma_step(c, lo.z, hi.z, lo.w, hi.w, b.z, b.w);
}

/*
 * The row of a step that lane g's registers hold for mma tile mt of warp
 * warp, in row half h (rows g and g + 8 of the tile): warp w's tiles are
 * rows w*MT*16 ... of the step.
 */
template <int MT>
static __device__ __forceinline__ int
step_row(int warp, int mt, int h, int g)
{
	return (warp * MT + mt) * 16 + h * 8 + g;
}

/* lane's slot in its warp's ring: stage, chunk u of the group, tile mt, row half h */
template <int MT>
static __device__ __forceinline__ uint4 *
ring_slot(uint4 *warp_ring, int stage, int u, int mt, int h, int lane)
{
	return warp_ring + (((stage * TENSOR_UNROLL + u) * MT + mt) * 2 + h) * 32 + lane;
}

/* a 16-byte asynchronous copy into shared memory; zeros when !valid */
static __device__ __forceinline__ void
copy_async16(uint4 *dst, const uint4 *src, bool valid)
{
	unsigned int dst_shared = (unsigned int) __cvta_generic_to_shared(dst);

	asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
				 :: "r"(dst_shared), "l"(src), "r"(valid ? 16 : 0));
}

/* until at most n of this thread's copy groups are in flight */
template <int N>
static __device__ __forceinline__ void
copies_wait(void)
{
	asm volatile("cp.async.wait_group %0;\n" :: "n"(N));
}

/*
 * Copy group it of the warp's flattened sequence (step it / groups_per_step,
 * chunks from (it % groups_per_step) x TENSOR_UNROLL) into ring stage
 * it % STAGES: lane (g, t)'s vectors of rows g and g + 8 of each of the
 * warp's tiles; zeros past the row's end; rows past row_end copy row_begin
 * (their keys are dropped); nothing past the last step.  Always one group
 * committed, so that the waits count alike.
 */
template <typename T, int WARPS, int MT, int STAGES>
static __device__ __forceinline__ void
tensor_copy_group(uint4 *warp_ring, const FusedArgs &a, long long row_begin, long long row_end,
				  int groups_per_step, int it)
{
	const int	warp = threadIdx.x >> 5;
	const int	lane = threadIdx.x & 31;
	const int	g = lane >> 2;
	const int	t = lane & 3;
	const int	row_bytes = a.ld * (int) sizeof(T);
	const long long step_row0 = row_begin + (long long) (it / groups_per_step) * tensor_tile_rows(WARPS, MT);
	const int	c0 = (it % groups_per_step) * TENSOR_UNROLL;

	if (step_row0 < row_end)
	{
#pragma unroll
		for (int mt = 0; mt < MT; mt++)
#pragma unroll
			for (int h = 0; h < 2; h++)
			{
				long long	row = step_row0 + step_row<MT>(warp, mt, h, g);
				const uint4 *vec = (const uint4 *) ((const char *) a.rows +
													(size_t) (row < row_end ? row : row_begin) * row_bytes) + t;

#pragma unroll
				for (int u = 0; u < TENSOR_UNROLL; u++)
				{
					bool		in = (c0 + u) * TENSOR_CHUNK_BYTES + t * 16 < row_bytes;

					copy_async16(ring_slot<MT>(warp_ring, it % STAGES, u, mt, h, lane),
								 in ? vec + 4 * (c0 + u) : vec, in);
				}
			}
	}
	asm volatile("cp.async.commit_group;\n" ::);
}

/*
 * The block's queries into shared memory, zero-padded to whole chunks
 * (padding queries past nq are all zeros), TF32-rounded for fp32 rows;
 * then each warp's lists and the per-query thresholds.
 */
template <typename T, int TQ, int WARPS>
static __device__ __forceinline__ void
tensor_stage(const FusedArgs &a, const TensorSmem &s, int q0)
{
	const int	row_bytes = a.ld * (int) sizeof(T);
	const int	stride_vecs = tensor_query_stride(a.ld, sizeof(T)) / 16;
	const int	warp = threadIdx.x >> 5;
	const int	lane = threadIdx.x & 31;

	for (int i = threadIdx.x; i < TQ * stride_vecs; i += WARPS * 32)
	{
		int			q = i / stride_vecs;
		int			v = i - q * stride_vecs;
		uint4		x = make_uint4(0, 0, 0, 0);

		if (q0 + q < a.nq && v * 16 < row_bytes)
			x = TensorOps<T>::prepare(__ldg((const uint4 *) ((const char *) a.queries +
															 (size_t) (q0 + q) * row_bytes) + v));
		((uint4 *) s.queries)[i] = x;
	}
	for (int q = warp; q < TQ; q += WARPS)
	{
		bool		valid = q0 + q < a.nq;
		WarpList	w;

		wl_init(w, s.lists + (size_t) q * warp_list_keys(a.k), a.k, valid ? a.bounds + q0 + q : NULL);
		if (lane == 0)
		{
			s.states[q] = w;
			s.thresholds[q] = valid ? w.threshold : 0;	/* no key is below 0 */
			s.qnorms[q] = valid ? a.qnorm[q0 + q] : 0.0f;
			s.counts[q] = 0;
		}
	}
}

/*
 * Each warp feeds the keys its queries kept since the last selection
 * (their rows counted from base_row) into their lists, after tightening
 * them with the shared bounds (bound: lane i holds the bound of the
 * warp's i-th query, read when the step began).
 */
template <int TQ, int WARPS, int CAP>
static __device__ __forceinline__ void
tensor_select(const FusedArgs &a, const TensorSmem &s, int q0, u64 bound, long long base_row)
{
	const int	warp = threadIdx.x >> 5;
	const int	lane = threadIdx.x & 31;

#pragma unroll
	for (int i = 0; i < (TQ + WARPS - 1) / WARPS; i++)
	{
		int			q = warp + i * WARPS;
		u64			b = __shfl_sync(FULL_MASK, bound, i);
		int			n;

		if (q >= TQ || q0 + q >= a.nq)
			break;
		n = s.counts[q];
		if (n == 0)
		{
			if (lane == 0)
				s.thresholds[q] = min(s.thresholds[q], bound_excl(b));
			continue;
		}

		WarpList	w = s.states[q];
		const unsigned int *dists = s.key_dists + (size_t) q * CAP;
		const unsigned short *rows = s.key_rows + (size_t) q * CAP;

		wl_bound(w, b);
		for (int j = 0; j < n; j += 32)
			wl_insert(w, j + lane < n ?
					  ((u64) dists[j + lane] << 32) | (unsigned int) (base_row + rows[j + lane]) :
					  KEY_EMPTY, a.k, lane);
		__syncwarp();
		if (lane == 0)
		{
			s.states[q] = w;
			s.thresholds[q] = w.threshold;
			s.counts[q] = 0;
		}
	}
}

/*
 * One block: TQ queries x rows [row_begin, row_end), TR = WARPS x MT x 16
 * rows a step.  Warp w multiplies rows w*MT*16 .. of the step by all TQ
 * queries (accumulators: MT x TQ/8 mma tiles), converts the products to
 * keys and keeps those under the query's threshold.  The warps feed the
 * kept keys into the lists (warp w owns queries w, w + WARPS, ...) only
 * when a query holds more than SLACK of them, at the last step, or when
 * the rows kept would leave 16 bits: a step can keep TR keys a query, so
 * TR + SLACK slots a query always hold them.  Most steps then end with
 * one barrier (which also tells whether to select) instead of a selection
 * between two; the thresholds tighten only at selections, so a few more
 * keys are kept.
 */
template <typename T, int TQ, int WARPS, int MT, int STAGES, int SLACK>
__global__ void __launch_bounds__(WARPS * 32, 1)
tensor_kernel(FusedArgs a)
{
	constexpr int NT = TQ / 8;
	constexpr int TR = tensor_tile_rows(WARPS, MT);
	constexpr int CAP = tensor_kept_slots(WARPS, MT, SLACK);
	extern __shared__ __align__(16) unsigned char smem[];
	TensorSmem	s;
	const int	warp = threadIdx.x >> 5;
	const int	lane = threadIdx.x & 31;
	const int	g = lane >> 2;
	const int	t = lane & 3;
	const int	q0 = blockIdx.x * TQ;
	const long long row_begin = (long long) blockIdx.y * a.rows_per_block;
	const long long row_end = min(a.nrows, row_begin + a.rows_per_block);
	const int	row_bytes = a.ld * (int) sizeof(T);
	const int	chunks = (row_bytes + TENSOR_CHUNK_BYTES - 1) / TENSOR_CHUNK_BYTES;
	const int	query_stride = tensor_query_stride(a.ld, sizeof(T));

	tensor_smem_layout(smem, TQ, WARPS, MT, STAGES, SLACK, a.ld, sizeof(T), a.k, &s);
	tensor_stage<T, TQ, WARPS>(a, s, q0);
	__syncthreads();

	/* lane t's vector of query g's chunk c: fragment + nt * 8 rows + 4 c */
	const uint4 *query_fragment = (const uint4 *) (s.queries + g * query_stride) + t;
	const int	ntile_vecs = 8 * query_stride / 16;

	const int	groups_per_step = (chunks + TENSOR_UNROLL - 1) / TENSOR_UNROLL;
	uint4	   *warp_ring = s.ring + warp * tensor_ring_slots(STAGES, MT);
	int			it = 0;			/* the copy group multiplied next */
	long long	base_row = row_begin;	/* kept keys' rows are counted from here */

	for (int i = 0; i < STAGES - 1; i++)
		tensor_copy_group<T, WARPS, MT, STAGES>(warp_ring, a, row_begin, row_end, groups_per_step, i);
	for (long long step_row0 = row_begin; step_row0 < row_end; step_row0 += TR)
	{
		float		row_norm[MT][2];
		float		acc[MT][NT][4];
		int			own = warp + lane * WARPS;
		u64			bound = (lane < (TQ + WARPS - 1) / WARPS && own < TQ && q0 + own < a.nq) ?
			__ldcg(a.bounds + q0 + own) : KEY_EMPTY;

#pragma unroll
		for (int mt = 0; mt < MT; mt++)
#pragma unroll
			for (int h = 0; h < 2; h++)
			{
				long long	row = step_row0 + step_row<MT>(warp, mt, h, g);

				row_norm[mt][h] = (row < row_end && a.metric != HS_GPU_NEG_IP) ? __ldg(a.rnorm + row) : 0.0f;
			}
#pragma unroll
		for (int mt = 0; mt < MT; mt++)
#pragma unroll
			for (int nt = 0; nt < NT; nt++)
#pragma unroll
				for (int i = 0; i < 4; i++)
					acc[mt][nt][i] = 0.0f;

		for (int c0 = 0; c0 < chunks; c0 += TENSOR_UNROLL, it++)
		{
			uint4		rv[TENSOR_UNROLL][MT][2];

			/* group it is in; its stage is then refilled STAGES - 1 groups ahead */
			copies_wait<STAGES - 2>();
#pragma unroll
			for (int u = 0; u < TENSOR_UNROLL; u++)
#pragma unroll
				for (int mt = 0; mt < MT; mt++)
#pragma unroll
					for (int h = 0; h < 2; h++)
						rv[u][mt][h] = *ring_slot<MT>(warp_ring, it % STAGES, u, mt, h, lane);
			tensor_copy_group<T, WARPS, MT, STAGES>(warp_ring, a, row_begin, row_end, groups_per_step,
													it + STAGES - 1);
#pragma unroll
			for (int u = 0; u < TENSOR_UNROLL; u++)
			{
				if (c0 + u >= chunks)
					break;
#pragma unroll
				for (int mt = 0; mt < MT; mt++)
#pragma unroll
					for (int h = 0; h < 2; h++)
						rv[u][mt][h] = TensorOps<T>::prepare(rv[u][mt][h]);
#pragma unroll
				for (int nt = 0; nt < NT; nt++)
				{
					uint4		b = query_fragment[nt * ntile_vecs + 4 * (c0 + u)];

#pragma unroll
					for (int mt = 0; mt < MT; mt++)
						mma_chunk<T>(acc[mt][nt], rv[u][mt][0], rv[u][mt][1], b);
				}
			}
		}

		/* accumulator i of tile (mt, nt): row g + 8 (i / 2), query 2t + i % 2 */
		bool		over = false;	/* a query of this thread's holds more than SLACK keys */

#pragma unroll
		for (int nt = 0; nt < NT; nt++)
#pragma unroll
			for (int j = 0; j < 2; j++)
			{
				int			q = nt * 8 + 2 * t + j;
				u64			threshold = s.thresholds[q];
				float		qn = s.qnorms[q];

#pragma unroll
				for (int mt = 0; mt < MT; mt++)
#pragma unroll
					for (int h = 0; h < 2; h++)
					{
						long long	row = step_row0 + step_row<MT>(warp, mt, h, g);
						u64			key;

						if (row >= row_end)
							continue;
						key = make_key(dist_from_dot(a.metric, acc[mt][nt][2 * h + j], qn, row_norm[mt][h]),
									   (unsigned int) row);
						if (key < threshold)
						{
							int			at = atomicAdd(&s.counts[q], 1);

							over |= at >= SLACK;
							s.key_dists[q * CAP + at] = (unsigned int) (key >> 32);
							s.key_rows[q * CAP + at] = (unsigned short) (row - base_row);
						}
					}
			}
		if (__syncthreads_or(over) || step_row0 + TR >= row_end ||
			step_row0 + 2 * TR - base_row > TENSOR_KEPT_ROW_SPAN)
		{
			tensor_select<TQ, WARPS, CAP>(a, s, q0, bound, base_row);
			__syncthreads();
			base_row = step_row0 + TR;
		}
	}

	copies_wait<0>();
	for (int q = warp; q < TQ && q0 + q < a.nq; q += WARPS)
	{
		WarpList	w = s.states[q];

		wl_finish(w, a.k, lane, a.cand + ((size_t) (q0 + q) * a.nchunks + blockIdx.y) * a.k);
	}
}

/*
 * Every (TQ, WARPS, MT, STAGES, SLACK) the host may choose: query tiles of
 * 8 to 64, 8 warps of one mma tile (128 rows a step; 4 warps of two were
 * slower at every batch on the H200), rings of 2 or 3 groups (one or two
 * in flight while the warp multiplies; 3 may not fit beside large query
 * tiles; 4 gained nothing over 3 at 8-32 queries), SLACK 0 (a selection
 * after every step that keeps a key) or 64.  Two sets of kept keys, so
 * that a warp's selection overlaps the others' products, were measured
 * too and gained nothing (doc/gpu-kernels.md).
 */
#define TENSOR_VARIANT(TQ, WARPS, MT, STAGES, SLACK) \
	{ half, TQ, WARPS, MT, STAGES, SLACK, (const void *) tensor_kernel<T, TQ, WARPS, MT, STAGES, SLACK> }

template <typename T>
int
tensor_variant_table(const TensorVariant **out)
{
	constexpr int half = std::is_same<T, __half>::value;
	static const TensorVariant table[] = {
		TENSOR_VARIANT(8, 8, 1, 2, 0), TENSOR_VARIANT(8, 8, 1, 3, 0),
		TENSOR_VARIANT(8, 8, 1, 2, 64), TENSOR_VARIANT(8, 8, 1, 3, 64),
		TENSOR_VARIANT(16, 8, 1, 2, 0), TENSOR_VARIANT(16, 8, 1, 3, 0),
		TENSOR_VARIANT(16, 8, 1, 2, 64), TENSOR_VARIANT(16, 8, 1, 3, 64),
		TENSOR_VARIANT(32, 8, 1, 2, 0), TENSOR_VARIANT(32, 8, 1, 3, 0),
		TENSOR_VARIANT(32, 8, 1, 2, 64), TENSOR_VARIANT(32, 8, 1, 3, 64),
		TENSOR_VARIANT(64, 8, 1, 2, 0), TENSOR_VARIANT(64, 8, 1, 3, 0)
	};

	*out = table;
	return (int) (sizeof(table) / sizeof(table[0]));
}

#undef TENSOR_VARIANT

#endif							/* HS_IMPL_TENSOR_KERNEL_CUH */
