/*
 * utils/distance.cuh
 *	  How each metric becomes a distance, shared by the fused and GEMM paths.
 *
 * The fused kernel accumulates one of three kinds of sums per (query, row):
 * a dot product (NEG_IP and cosine, and L2 on the GEMM path), squared
 * differences (L2) or absolute differences (L1).  A dot product becomes a
 * distance with the squared norms of both sides (dist_from_dot).
 */
#ifndef HS_UTILS_DISTANCE_CUH
#define HS_UTILS_DISTANCE_CUH

#include <cuda_runtime.h>

#include "hs_gpu.h"

/* what the fused kernel accumulates (a template argument, KIND) */
enum { K_DOT = 0, K_L2 = 1, K_L1 = 2 };

static inline int
metric_kind(int metric)
{
	return metric == HS_GPU_L2 ? K_L2 : metric == HS_GPU_L1 ? K_L1 : K_DOT;
}

/* a += the contribution of one element pair (query value q, row value r) */
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

/* distance from a dot product and the squared norms qn, rn */
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

#endif							/* HS_UTILS_DISTANCE_CUH */
