/*
 * impl/bench.cu
 *	  Bandwidth and compute floors for a matrix (impl/bench.h): a kernel
 *	  that reads every stored byte once, a device-to-device copy of the same
 *	  bytes, and the GEMM path's cuBLAS calls alone, each the median of reps
 *	  runs after a warm-up.
 */
#include <algorithm>
#include <vector>

#include "device_context.h"
#include "impl/bench.h"
#include "impl/convert.h"
#include "impl/gemm.cuh"
#include "matrix.h"
#include "launch.h"
#include "search.h"
#include "utils/errors.h"
#include "utils/int_math.h"

/* read floor: every 16-byte word once, streaming (__ldcs), four in flight */
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
	/* a store the compiler cannot prove dead, so the loads stay */
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

static float
median(std::vector<float> &v)
{
	std::sort(v.begin(), v.end());
	return v.empty() ? -1.0f : v[v.size() / 2];
}

/*
 * *median_ms = the median event time of reps runs of enqueue() (which
 * returns 0 or an error code) on the context's stream, after one warm-up
 * run; what names the run in errors.
 */
template <typename Enqueue>
static int
time_median(DevCtx &ctx, int reps, const char *what, float *median_ms, Enqueue enqueue,
			char *errbuf, size_t errlen)
{
	std::vector<float> t;

	for (int i = -1; i < reps; i++)
	{
		float		ms;
		int			rc;

		CUDA_CHECK(cudaEventRecord(ctx.ev_start, ctx.stream), "cudaEventRecord");
		if ((rc = enqueue()) != 0)
			return rc;
		CUDA_CHECK(cudaEventRecord(ctx.ev_stop, ctx.stream), "cudaEventRecord");
		CUDA_CHECK(cudaEventSynchronize(ctx.ev_stop), what);
		CUDA_CHECK(cudaEventElapsedTime(&ms, ctx.ev_start, ctx.ev_stop), "cudaEventElapsedTime");
		if (i >= 0)
			t.push_back(ms);
	}
	*median_ms = median(t);
	return 0;
}

int
bench_locked(hs_gpu_matrix *m, int nq, int reps, float *read_ms, float *copy_ms, float *gemm_ms,
			 char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	size_t		bytes = (size_t) m->rows * m->ld * (m->half ? 2 : 4);
	void	   *scratch = NULL;
	cudaError_t e;
	int			rc;

	*read_ms = *copy_ms = *gemm_ms = -1.0f;
	if (m->rows == 0 || reps < 1)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: nothing to bench");
	CUDA_CHECK(cudaSetDevice(ctx.device), "cudaSetDevice");
	rc = time_median(ctx, reps, "read kernel", read_ms, [&]() -> int
	{
		read_kernel<<<ctx.prop.multiProcessorCount * 8, 256, 0, ctx.stream>>>(
			(const uint4 *) m->data, (long long) (bytes / 16), (unsigned int *) ctx.sink.ptr);
		CUDA_CHECK_LAUNCH("read kernel");
		return 0;
	}, errbuf, errlen);
	if (rc != 0)
		return rc;

	/* the copy floor needs room for a second copy; without it, -1 */
	e = cudaMalloc(&scratch, bytes);
	if (e == cudaSuccess)
	{
		rc = time_median(ctx, reps, "copy floor", copy_ms, [&]() -> int
		{
			CUDA_CHECK(cudaMemcpyAsync(scratch, m->data, bytes, cudaMemcpyDeviceToDevice, ctx.stream),
					   "copy floor");
			return 0;
		}, errbuf, errlen);
		if (rc != 0)
			return rc;
		cudaFree(scratch);
	}
	else
		cudaGetLastError();

	if (nq >= 1)
	{
		Launch		launch;
		Plan		p = {1, NULL, NULL};
		int			nq_pad = (int) round_up(nq, 16);

		if ((rc = reserve_query_buffers(m, nq_pad, errbuf, errlen)) != 0)
			return rc;
		fill_kernel<<<256, 256, 0, ctx.stream>>>((float *) ctx.queries.ptr, (long long) nq_pad * m->ld, 12345u);
		CUDA_CHECK_LAUNCH("fill kernel");
		launch_prep_queries((const float *) ctx.queries.ptr, nq_pad, m->ld, (float *) ctx.qnorms32.ptr,
							(float *) ctx.qnorms16.ptr, (__half *) ctx.queries16.ptr, ctx.stream);
		CUDA_CHECK_LAUNCH("query preparation kernel");
		if ((rc = prepare(m, p, HS_GPU_NEG_IP, nq, 10, launch, errbuf, errlen)) != 0)
			return rc < 0 ? fail(errbuf, errlen, HS_GPU_EINVAL, "gemm infeasible") : rc;
		rc = time_median(ctx, reps, "gemm floor", gemm_ms, [&]() -> int
		{
			for (int c = 0; c < launch.gemm_chunks; c++)
			{
				long long	row0 = (long long) c * launch.gemm_chunk_rows;
				int			rows_c = (int) std::min<long long>(launch.gemm_chunk_rows, m->rows - row0);
				int			grc;

				if ((grc = gemm_chunk(m, row0, rows_c, nq, (float *) ctx.dots[c & 1].ptr, launch.dots_ld,
									  errbuf, errlen)) != 0)
					return grc;
			}
			return 0;
		}, errbuf, errlen);
		if (rc != 0)
			return rc;
	}
	return 0;
}
