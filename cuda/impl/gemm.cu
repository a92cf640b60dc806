/*
 * impl/gemm.cu
 *	  The GEMM path's two steps (impl/gemm.cuh): cublasGemmEx with fp32
 *	  accumulation on the tensor cores (TF32 inputs for fp32 rows, fp16 for
 *	  fp16), and the selection of its dot products.  TF32 rounds elements
 *	  to 10 bits as fp16 does: the backends' margin for GPU searches of
 *	  fp32 copies allows for it (search_dot_margin), and re-score exactly.
 */
#include <cublas_v2.h>

#include "device_context.h"
#include "impl/gemm.cuh"
#include "matrix.h"
#include "utils/distance.cuh"
#include "utils/errors.h"
#include "utils/warp_select.cuh"

/* dot products r..r+3 of a query and the rows' squared norms (zeros past
 * end; no norms for inner product) */
static __device__ __forceinline__ void
load_dots4(const float *query_dots, const float *chunk_norms, int r, int end, int metric,
		   float *dot, float *norm)
{
	float4		v = make_float4(0.f, 0.f, 0.f, 0.f);
	float4		n4 = make_float4(0.f, 0.f, 0.f, 0.f);

	if (r + 3 < end)
	{
		v = *(const float4 *) (query_dots + r);
		if (metric != HS_GPU_NEG_IP)
			n4 = __ldg((const float4 *) (chunk_norms + r));
	}
	else
	{
		if (r < end) { v.x = query_dots[r]; n4.x = chunk_norms[r]; }
		if (r + 1 < end) { v.y = query_dots[r + 1]; n4.y = chunk_norms[r + 1]; }
		if (r + 2 < end) { v.z = query_dots[r + 2]; n4.z = chunk_norms[r + 2]; }
	}
	dot[0] = v.x; dot[1] = v.y; dot[2] = v.z; dot[3] = v.w;
	norm[0] = n4.x; norm[1] = n4.y; norm[2] = n4.z; norm[3] = n4.w;
}

/*
 * A warp's step is SELECT_VECS float4 of dot products per lane, all loaded
 * before any is used: with a good bound almost no key enters a list, so the
 * step is the loads' latency, and a warp needs several in flight (one
 * float4 a step kept a batch of 32 queries' selection at 0.3 TB/s of L2).
 * The shared bound is read with each step's loads and applied at the next.
 */
#define SELECT_VECS 4
#define SELECT_STEP_ROWS (SELECT_VECS * 128)

__global__ void
gemm_select_kernel(const float *__restrict__ dots, int ldc, int nrows_chunk, long long row_base,
				   const float *__restrict__ rnorm, const float *__restrict__ qnorm,
				   int metric, int nq, int k, int seg_len, int nseg,
				   u64 *__restrict__ out, int nseg_total, int seg_offset, u64 *bounds)
{
	extern __shared__ u64 sm_sel[];
	int			warp = threadIdx.x >> 5;
	int			lane = threadIdx.x & 31;
	long long	task = (long long) blockIdx.x * (blockDim.x >> 5) + warp;
	WarpList	w;
	u64			bound_read = KEY_EMPTY;

	if (task >= (long long) nq * nseg)
		return;
	int			q = (int) (task / nseg);
	int			seg = (int) (task % nseg);
	int			seg_begin = seg * seg_len;
	int			seg_end = min(nrows_chunk, seg_begin + seg_len);
	const float *query_dots = dots + (size_t) q * ldc;
	const float *chunk_norms = rnorm + row_base;
	float		qn = qnorm[q];

	wl_init(w, sm_sel + (size_t) warp * warp_list_keys(k), k, bounds + q);
	for (int b = seg_begin; b < seg_end; b += SELECT_STEP_ROWS)
	{
		float		dot[SELECT_VECS * 4];
		float		norm[SELECT_VECS * 4];
		u64			key[SELECT_VECS * 4];
		u64			smallest = KEY_EMPTY;

		wl_bound(w, bound_read);
		bound_read = __ldcg(bounds + q);
#pragma unroll
		for (int v = 0; v < SELECT_VECS; v++)
			load_dots4(query_dots, chunk_norms, b + v * 128 + lane * 4, seg_end, metric,
					   dot + 4 * v, norm + 4 * v);
#pragma unroll
		for (int e = 0; e < SELECT_VECS * 4; e++)
		{
			int			r = b + (e / 4) * 128 + lane * 4 + e % 4;

			key[e] = r < seg_end ?
				make_key(dist_from_dot(metric, dot[e], qn, norm[e]), (unsigned int) (row_base + r)) :
				KEY_EMPTY;
			smallest = min(smallest, key[e]);
		}
		if (__any_sync(FULL_MASK, smallest < w.threshold))
		{
#pragma unroll
			for (int e = 0; e < SELECT_VECS * 4; e++)
				wl_insert(w, key[e], k, lane);
		}
	}
	wl_finish(w, k, lane, out + ((size_t) q * nseg_total + seg_offset + seg) * k);
}

/*
 * One block per query.  Thread t takes the minimum key over BOUND_SAMPLE_RUNS
 * rows, row t of each of BOUND_SAMPLE_RUNS windows spread over the chunk (so
 * a warp's reads are contiguous); k of these minima belong to k different
 * rows, so the k-th smallest of them bounds the answer's k-th key.  The
 * block sorts the minima (bitonic, one per thread) and publishes the k-th.
 */
__global__ void __launch_bounds__(BOUND_SAMPLE_THREADS)
gemm_sample_bound_kernel(const float *__restrict__ dots, int ldc, int nrows_chunk, long long row_base,
						 const float *__restrict__ rnorm, const float *__restrict__ qnorm,
						 int metric, int k, u64 *bounds)
{
	__shared__ u64 minima[BOUND_SAMPLE_THREADS];
	int			q = blockIdx.x;
	int			t = threadIdx.x;
	int			window_step = nrows_chunk / BOUND_SAMPLE_RUNS;
	const float *query_dots = dots + (size_t) q * ldc;
	float		qn = qnorm[q];
	u64			best = KEY_EMPTY;

#pragma unroll
	for (int j = 0; j < BOUND_SAMPLE_RUNS; j++)
	{
		int			r = j * window_step + t;
		float		rn = metric != HS_GPU_NEG_IP ? __ldg(rnorm + row_base + r) : 0.0f;
		float		d = dist_from_dot(metric, __ldcg(query_dots + r), qn, rn);

		best = min(best, make_key(d, (unsigned int) (row_base + r)));
	}
	minima[t] = best;
	for (int size = 2; size <= BOUND_SAMPLE_THREADS; size <<= 1)
	{
		for (int stride = size >> 1; stride > 0; stride >>= 1)
		{
			int			other = t ^ stride;

			__syncthreads();
			if (other > t)
			{
				u64			a = minima[t];
				u64			b = minima[other];

				if ((a > b) == ((t & size) == 0))
				{
					minima[t] = b;
					minima[other] = a;
				}
			}
		}
	}
	__syncthreads();
	if (t == 0)
		atomicMin(bounds + q, minima[k - 1]);
}

/* column-major view: dots (rows_c x nq, ldc) = rows^T (rows_c x ld) x queries (ld x nq) */
int
gemm_chunk(hs_gpu_matrix *m, long long row0, int rows_c, int nq, float *dots, int ldc,
		   char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	const float alpha = 1.0f,
				beta = 0.0f;
	size_t		elt = m->half ? 2 : 4;
	const void *rows = (const char *) m->data + (size_t) row0 * m->ld * elt;
	const void *queries = m->half ? ctx.queries16.ptr : ctx.queries.ptr;
	cudaDataType_t ty = m->half ? CUDA_R_16F : CUDA_R_32F;
	cublasComputeType_t compute = m->half ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_TF32;
	cublasStatus_t s;

	s = cublasGemmEx(ctx.blas, CUBLAS_OP_T, CUBLAS_OP_N, rows_c, nq, m->ld, &alpha,
					 rows, ty, m->ld, queries, ty, m->ld, &beta, dots, CUDA_R_32F, ldc,
					 compute, CUBLAS_GEMM_DEFAULT);
	if (s != CUBLAS_STATUS_SUCCESS)
		return blas_fail(errbuf, errlen, s, "cublasGemmEx");
	return 0;
}
