/*
 * impl/tensor.cuh
 *	  What the host and the tensor-core distance + top-k kernel share: the
 *	  block shape, the one definition of its shared-memory layout, its
 *	  arguments and the table of its instantiations.
 *
 * The tensor kernel (impl/tensor_kernel.cuh) is the fused kernel's shape
 * for batches: each block reads its rows once for all of its TQ queries
 * and multiplies them on the tensor cores (mma.sync: fp16 x fp16 for fp16
 * rows; TF32 for fp32 rows, both sides rounded to nearest, as the GEMM
 * path's product and so within the backends' margin), fp32 accumulation.
 * Only the keys under a query's threshold reach shared memory, and the
 * lists are fed from there, so a batch costs one pass over the matrix
 * instead of a product, a write and a read of the dot products.
 */
#ifndef HS_IMPL_TENSOR_CUH
#define HS_IMPL_TENSOR_CUH

#include <stddef.h>
#include <cuda_runtime.h>

#include "impl/fused.cuh"
#include "utils/keys.cuh"
#include "utils/warp_select.cuh"

/* bytes of a row (or query) one mma pair covers: 32 fp16 or 16 fp32 */
#define TENSOR_CHUNK_BYTES 64

/* chunks of its rows a warp copies in one group (one ring stage) */
#define TENSOR_UNROLL 4

/* 16-byte slots of one warp's ring: stages x chunks x tiles x 2 rows x 32 lanes */
static __host__ __device__ constexpr int
tensor_ring_slots(int stages, int mt)
{
	return stages * TENSOR_UNROLL * mt * 2 * 32;
}

/* rows a block covers per step: each warp MT mma tiles of 16 rows */
static __host__ __device__ constexpr int
tensor_tile_rows(int warps, int mt)
{
	return warps * mt * 16;
}

/*
 * A staged query's stride in bytes: its row padded with zeros to whole
 * chunks, then to 64 bytes past a multiple of 128, so that the eight
 * queries of one fragment load fall into different shared-memory banks.
 */
static __host__ __device__ __forceinline__ int
tensor_query_stride(int ld, int elt)
{
	int			bytes = (ld * elt + TENSOR_CHUNK_BYTES - 1) / TENSOR_CHUNK_BYTES * TENSOR_CHUNK_BYTES;

	return bytes % 128 == 0 ? bytes + 64 : bytes;
}

/*
 * Where a block's dynamic shared memory goes (tensor_smem_layout).  The
 * keys kept between selections are stored compact, 6 bytes instead of 8:
 * the distance's ordered image (keys.cuh) and the row counted from the
 * first step since the last selection (16 bits; the kernel selects before
 * they would need more).  A query has tensor_kept_slots of them.
 */
struct TensorSmem
{
	unsigned char *queries;		/* tq staged queries, tensor_query_stride apart */
	uint4	   *ring;			/* per warp: its rows' vectors in flight (tensor_ring_slots) */
	unsigned int *key_dists;	/* per query: kept keys' distances (f2ord) */
	u64		   *lists;			/* per query: its list's warp_list_keys(k) keys */
	u64		   *thresholds;		/* per query: keys must be below this to be kept */
	WarpList   *states;			/* per query: its list, between the steps that feed it */
	float	   *qnorms;			/* per query: squared norm */
	int		   *counts;			/* per query: keys waiting in key_dists and key_rows */
	unsigned short *key_rows;	/* per query: the same keys' rows from the kernel's base row */
};

/* rows a kept key's row (unsigned short, counted from the kernel's base row) reaches */
#define TENSOR_KEPT_ROW_SPAN 65536

/* kept-key slots a query: one step's rows, and slack keys more before selecting */
static __host__ __device__ constexpr int
tensor_kept_slots(int warps, int mt, int slack)
{
	return tensor_tile_rows(warps, mt) + slack;
}

/*
 * The layout of a block of tq queries and warps warps of mt tiles, in this
 * order (16-byte alignment first): staged queries, the warps' rings, kept
 * keys' distances, lists, thresholds, list states, query norms, counts,
 * kept keys' rows.  Fills *s from base when s is not NULL; returns the
 * bytes.  The kernel carves with it and the host sizes with it.
 */
static __host__ __device__ __forceinline__ size_t
tensor_smem_layout(unsigned char *base, int tq, int warps, int mt, int stages, int slack, int ld,
				   int elt, int k, TensorSmem *s)
{
	size_t		kept = (size_t) tq * tensor_kept_slots(warps, mt, slack);
	size_t		off = 0;

	if (s)
		s->queries = base;
	off += (size_t) tq * tensor_query_stride(ld, elt);
	if (s)
		s->ring = (uint4 *) (base + off);
	off += (size_t) warps * tensor_ring_slots(stages, mt) * sizeof(uint4);
	if (s)
		s->key_dists = (unsigned int *) (base + off);
	off += kept * sizeof(unsigned int);
	off = (off + 7) & ~(size_t) 7;
	if (s)
		s->lists = (u64 *) (base + off);
	off += (size_t) tq * warp_list_keys(k) * sizeof(u64);
	if (s)
		s->thresholds = (u64 *) (base + off);
	off += (size_t) tq * sizeof(u64);
	if (s)
		s->states = (WarpList *) (base + off);
	off += (size_t) tq * sizeof(WarpList);
	if (s)
		s->qnorms = (float *) (base + off);
	off += (size_t) tq * sizeof(float);
	if (s)
		s->counts = (int *) (base + off);
	off += (size_t) tq * sizeof(int);
	if (s)
		s->key_rows = (unsigned short *) (base + off);
	return off + kept * sizeof(unsigned short);
}

/* One tensor-kernel instantiation, as the host code sees it. */
struct TensorVariant
{
	int			half;			/* row storage fp16 */
	int			tq;				/* queries per block, a multiple of 8 */
	int			warps;			/* warps per block */
	int			mt;				/* 16-row mma tiles per warp */
	int			stages;			/* groups of chunks a warp's ring holds */
	int			slack;			/* kept keys a query may hold past one step's before selecting */
	const void *fn;
};

/*
 * The instantiations for rows of type T (float or __half), in a fixed
 * order; *out points at a static table.  Explicitly instantiated in
 * impl/tensor_f32.cu and impl/tensor_f16.cu.
 */
template <typename T>
int			tensor_variant_table(const TensorVariant **out);

#endif							/* HS_IMPL_TENSOR_CUH */
