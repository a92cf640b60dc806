/*
 * impl/convert.cu
 *	  Kernels that convert fp32 input into the stored form (impl/convert.h).
 *
 * Norms are summed in double from the values as stored (after fp16
 * rounding), so the L2 distance through |q|^2 + |r|^2 - 2<q,r> is the
 * distance between the stored vectors.  One warp per row or query.
 */
#include "impl/convert.h"
#include "utils/int_math.h"
#include "utils/warp_select.cuh"

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
	double		norm32 = 0.0,
				norm16 = 0.0;

	if (qi >= nq_pad)
		return;
	for (int c = lane; c < ld; c += 32)
	{
		float		v = q[(size_t) qi * ld + c];
		__half		h = __float2half_rn(v);
		double		hv = (double) __half2float(h);

		norm32 += (double) v * v;
		norm16 += hv * hv;
		if (q16)
			q16[(size_t) qi * ld + c] = h;
	}
	for (int o = 16; o >= 1; o >>= 1)
	{
		norm32 += __shfl_xor_sync(FULL_MASK, norm32, o);
		norm16 += __shfl_xor_sync(FULL_MASK, norm16, o);
	}
	if (lane == 0)
	{
		qn32[qi] = (float) norm32;
		qn16[qi] = (float) norm16;
	}
}

/* 8 warps a block, one row each */
void
launch_append(const float *src, int dim, long long n, void *data, int half, int ld,
			  long long row0, float *norms, cudaStream_t stream)
{
	if (half)
		append_kernel<__half><<<(unsigned) ceil_div(n, 8), 256, 0, stream>>>(
			src, dim, n, (__half *) data + (size_t) row0 * ld, ld, norms + row0);
	else
		append_kernel<float><<<(unsigned) ceil_div(n, 8), 256, 0, stream>>>(
			src, dim, n, (float *) data + (size_t) row0 * ld, ld, norms + row0);
}

/* 8 warps a block, one query each */
void
launch_prep_queries(const float *queries, int nq_pad, int ld, float *qnorms32, float *qnorms16,
					__half *queries16, cudaStream_t stream)
{
	prep_queries_kernel<<<(unsigned) ceil_div(nq_pad, 8), 256, 0, stream>>>(
		queries, nq_pad, ld, qnorms32, qnorms16, queries16);
}
