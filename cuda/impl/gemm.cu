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

/* every warp reads the shared bound again each 1024 dot products */
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

	if (task >= (long long) nq * nseg)
		return;
	int			q = (int) (task / nseg);
	int			seg = (int) (task % nseg);
	int			seg_begin = seg * seg_len;
	int			seg_end = min(nrows_chunk, seg_begin + seg_len);
	const float *query_dots = dots + (size_t) q * ldc;
	float		qn = qnorm[q];

	wl_init(w, sm_sel + (size_t) warp * warp_list_keys(k), k, bounds + q);
	for (int b = seg_begin; b < seg_end; b += 128)
	{
		int			r = b + lane * 4;
		float4		v = make_float4(0.f, 0.f, 0.f, 0.f);
		float4		n4 = make_float4(0.f, 0.f, 0.f, 0.f);

		if (((b - seg_begin) & 1023) == 0)
			wl_bound(w, __ldcg(bounds + q));
		if (r + 3 < seg_end)
		{
			v = *(const float4 *) (query_dots + r);
			if (metric != HS_GPU_NEG_IP)
				n4 = __ldg((const float4 *) (rnorm + row_base + r));
		}
		else
		{
			if (r < seg_end) { v.x = query_dots[r]; n4.x = rnorm[row_base + r]; }
			if (r + 1 < seg_end) { v.y = query_dots[r + 1]; n4.y = rnorm[row_base + r + 1]; }
			if (r + 2 < seg_end) { v.z = query_dots[r + 2]; n4.z = rnorm[row_base + r + 2]; }
		}
		float		vv[4] = {v.x, v.y, v.z, v.w};
		float		nn[4] = {n4.x, n4.y, n4.z, n4.w};

#pragma unroll
		for (int e = 0; e < 4; e++)
		{
			u64			key = KEY_EMPTY;

			if (r + e < seg_end)
			{
				long long	row = row_base + r + e;

				key = make_key(dist_from_dot(metric, vv[e], qn, nn[e]), (unsigned int) row);
			}
			wl_insert(w, key, k, lane);
		}
	}
	wl_finish(w, k, lane, out + ((size_t) q * nseg_total + seg_offset + seg) * k);
}

/* column-major view: dots (rows_c x nq, ldc) = rows^T (rows_c x ld) x queries (ld x nq) */
int
gemm_chunk(hs_gpu_matrix *m, long long row0, int rows_c, int nq, int ldc, char *errbuf, size_t errlen)
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
					 rows, ty, m->ld, queries, ty, m->ld, &beta, ctx.dots.ptr, CUDA_R_32F, ldc,
					 compute, CUBLAS_GEMM_DEFAULT);
	if (s != CUBLAS_STATUS_SUCCESS)
		return blas_fail(errbuf, errlen, s, "cublasGemmEx");
	return 0;
}
