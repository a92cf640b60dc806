/*
 * impl/fused.cuh
 *	  What the host and the fused distance + top-k kernel share: the block
 *	  shape, the one definition of its shared-memory layout, its arguments,
 *	  and the table of its instantiations.
 *
 * The kernel (impl/fused_kernel.cuh) carves its dynamic shared memory with
 * the same functions the host (launch.cu) sizes it with, so the two cannot
 * drift apart.
 */
#ifndef HS_IMPL_FUSED_CUH
#define HS_IMPL_FUSED_CUH

#include <stddef.h>
#include <cuda_runtime.h>

#include "utils/keys.cuh"
#include "utils/warp_select.cuh"

#define FUSED_THREADS 256
#define FUSED_WARPS 8
#define QSTAGE_MAX	(64 * 1024) /* stage the query tile in shared memory up to this */

/* rows a block covers per step: 8 warps x (32 / lpr) lane groups x r rows */
static __host__ __device__ constexpr int
fused_tile_rows(int lpr, int r)
{
	return FUSED_WARPS * (32 / lpr) * r;
}

/*
 * The dynamic shared memory of a block with tq queries and tr-row tiles, in
 * this order:
 *   staged queries  tq x ld fp32, only when qstaged (else read from global)
 *   key tiles       2 x tq x tr keys (double buffer: one __syncthreads a step)
 *   lists           tq warp lists of warp_list_keys(k) keys each
 */
static __host__ __device__ __forceinline__ size_t
fused_smem_query_bytes(int tq, int ld, int qstaged)
{
	return qstaged ? (size_t) tq * ld * sizeof(float) : 0;
}

static __host__ __device__ constexpr int
fused_smem_tile_keys(int tq, int tr)
{
	return 2 * tq * tr;
}

static inline size_t
fused_smem_bytes(int tq, int tr, int ld, int k, int qstaged)
{
	return fused_smem_query_bytes(tq, ld, qstaged) + (size_t) fused_smem_tile_keys(tq, tr) * sizeof(u64) +
		(size_t) tq * warp_list_keys(k) * sizeof(u64);
}

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

/*
 * Parameters of the fused kernel and of the tensor kernel (impl/tensor.cuh),
 * one struct each launch fills the same way.
 */
struct FusedArgs
{
	const void *rows;			/* nrows x ld, fp32 or fp16 */
	const float *rnorm;			/* squared row norms */
	long long	nrows;
	int			ld;
	const float *queries;		/* nq_pad x ld, zero padded: fp32 (fused); the tensor kernel reads
								 * them as the rows' type (fp16 for fp16 rows) */
	const float *qnorm;			/* squared norms of those queries */
	int			nq;
	int			k;
	long long	rows_per_block;
	int			metric;			/* the tensor kernel takes dot products: not L1 */
	int			qstaged;		/* fused: queries staged in shared memory */
	u64		   *cand;			/* [nq][nchunks][k] */
	int			nchunks;
	u64		   *bounds;			/* per query: shared upper bound of the k-th key */
};

/*
 * The instantiations for rows of type T (float or __half), in a fixed
 * order (the autotuner reports them in it); *out points at a static table.
 * Explicitly instantiated in impl/fused_f32.cu and impl/fused_f16.cu.
 */
template <typename T>
int			fused_variant_table(const FusedVariant **out);

#endif							/* HS_IMPL_FUSED_CUH */
