/*
 * api.cu
 *	  The C API of hs_gpu.h, except hs_gpu_search_parts (search_parts.cu).
 *
 * Each entry point checks its arguments, blocks signals (utils/signals.h),
 * takes the device's mutex and calls the *_locked function that does the
 * work; nothing here touches a kernel.  Only these functions are exported:
 * the module builds with -fvisibility=hidden.
 */
#include <stdlib.h>
#include <string.h>
#include <algorithm>
#include <string>

#include "api.h"
#include "device_context.h"
#include "impl/bench.h"
#include "matrix.h"
#include "plan.h"
#include "search.h"
#include "utils/errors.h"
#include "utils/int_math.h"
#include "utils/signals.h"

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

	init_device_contexts();
	if (device < 0 || device >= HS_GPU_MAX_DEVICES)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: device %d out of range 0..%d",
					device, HS_GPU_MAX_DEVICES - 1);
	ctx = &device_contexts[device];
	pthread_mutex_lock(&ctx->mutex);
	rc = open_locked(*ctx, device, errbuf, errlen);
	pthread_mutex_unlock(&ctx->mutex);
	return rc;
}

API void
hs_gpu_close(void)
{
	SignalsBlocked blocked;
	init_device_contexts();
	release_lanes();
	for (int i = 0; i < HS_GPU_MAX_DEVICES; i++)
	{
		pthread_mutex_lock(&device_contexts[i].mutex);
		close_locked(device_contexts[i]);
		pthread_mutex_unlock(&device_contexts[i].mutex);
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
	pthread_mutex_unlock(&ctx->mutex);
	m = (hs_gpu_matrix *) calloc(1, sizeof(*m));
	if (!m)
	{
		fail(errbuf, errlen, HS_GPU_ENOMEM, "hybridsearch cuda: out of host memory");
		return NULL;
	}
	m->ctx = ctx;
	m->dim = dim;
	m->ld = (int) round_up(dim, 8);
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
	pthread_mutex_lock(&ctx->mutex);
	cudaSetDevice(ctx->device);
	if (ctx->open)
		cudaStreamSynchronize(ctx->stream);
	if (m->data)
		cudaFree(m->data);
	if (m->norms)
		cudaFree(m->norms);
	pthread_mutex_unlock(&ctx->mutex);
	free(m);
}

API int
hs_gpu_matrix_append(hs_gpu_matrix *m, const float *rows, int64_t nrows,
					 char *errbuf, size_t errlen)
{
	SignalsBlocked blocked;

	return with_matrix_locked(m, errbuf, errlen, [&]() {
		return append_locked(m, rows, nrows, errbuf, errlen);
	});
}

API int
hs_gpu_matrix_reserve(hs_gpu_matrix *m, int64_t nrows, char *errbuf, size_t errlen)
{
	SignalsBlocked blocked;

	return with_matrix_locked(m, errbuf, errlen, [&]() {
		return reserve_locked(m, nrows, errbuf, errlen);
	});
}

API int
hs_gpu_search(hs_gpu_matrix *m, int metric, const float *queries, int nqueries, int k,
			  float *out_distances, int64_t *out_rows, float *kernel_ms,
			  char *errbuf, size_t errlen)
{
	SignalsBlocked blocked;

	return with_matrix_locked(m, errbuf, errlen, [&]() {
		return search_locked(m, metric, queries, nqueries, k, out_distances, out_rows, kernel_ms,
							 errbuf, errlen);
	});
}

API int
hs_gpu_launch_size(hs_gpu_matrix *const *parts, int nparts, int metric, int nqueries, int k)
{
	SignalsBlocked blocked;
	char		errbuf[128];
	int			size = nqueries;

	/* the parts are alike (hs_gpu_search_parts): the first one's tuning speaks for all */
	if (nparts < 1 || !parts || nqueries < 2)
		return nqueries;
	with_matrix_locked(parts[0], errbuf, sizeof(errbuf), [&]() {
		size = launch_size(parts[0], metric, nqueries, k);
		return 0;
	});
	return size;
}

API size_t
hs_gpu_tune_report(char *buf, size_t buflen)
{
	std::string s;

	init_device_contexts();
	for (int d = 0; d < HS_GPU_MAX_DEVICES; d++)
	{
		DevCtx	   &ctx = device_contexts[d];

		pthread_mutex_lock(&ctx.mutex);
		if (ctx.open)
			for (std::map<TuneKey, TuneEntry>::iterator it = ctx.tune_cache->begin();
				 it != ctx.tune_cache->end(); ++it)
			{
				s += it->second.report;
				s += "\n";
			}
		pthread_mutex_unlock(&ctx.mutex);
	}
	if (buflen == 0)
		return 0;
	size_t		n = std::min(s.size(), buflen - 1);

	memcpy(buf, s.data(), n);
	buf[n] = 0;
	return n;
}

API void
hs_gpu_set_tune_runs(int runs_per_search)
{
	set_tune_runs_per_search(runs_per_search);
}

API void
hs_gpu_set_graphs(int on)
{
	set_graphs_enabled(on);
}

API void
hs_gpu_set_plan_filter(const char *part)
{
	set_plan_filter(part);
}

API size_t
hs_gpu_last_variant(char *buf, size_t buflen)
{
	size_t		n;

	if (buflen == 0)
		return 0;
	init_device_contexts();

	DevCtx	   &ctx = device_contexts[last_device.load()];

	pthread_mutex_lock(&ctx.mutex);
	n = std::min(strlen(ctx.last_variant), buflen - 1);
	memcpy(buf, ctx.last_variant, n);
	buf[n] = 0;
	pthread_mutex_unlock(&ctx.mutex);
	return n;
}

API int
hs_gpu_matrix_bench(hs_gpu_matrix *m, int nqueries, int reps, float *read_ms, float *copy_ms,
					float *gemm_ms, char *errbuf, size_t errlen)
{
	SignalsBlocked blocked;

	if (!read_ms || !copy_ms || !gemm_ms)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: bad bench arguments");
	return with_matrix_locked(m, errbuf, errlen, [&]() {
		return bench_locked(m, nqueries, reps, read_ms, copy_ms, gemm_ms, errbuf, errlen);
	});
}
