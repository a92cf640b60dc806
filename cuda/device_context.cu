/*
 * device_context.cu
 *	  Opening, locking and closing the per-device contexts
 *	  (device_context.h).
 */
#include <stdio.h>

#include "device_context.h"
#include "matrix.h"
#include "utils/errors.h"

DevCtx		device_contexts[HS_GPU_MAX_DEVICES];
std::atomic<int> last_device(0);

static pthread_once_t contexts_once = PTHREAD_ONCE_INIT;

static void
init_mutexes(void)
{
	for (int i = 0; i < HS_GPU_MAX_DEVICES; i++)
		pthread_mutex_init(&device_contexts[i].mutex, NULL);
}

void
init_device_contexts(void)
{
	pthread_once(&contexts_once, init_mutexes);
}

int
lock_device(int device, DevCtx **out, char *errbuf, size_t errlen)
{
	DevCtx	   *ctx = NULL;

	init_device_contexts();
	if (device < 0 || device >= HS_GPU_MAX_DEVICES)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: device %d out of range 0..%d", device,
					HS_GPU_MAX_DEVICES - 1);
	ctx = &device_contexts[device];
	pthread_mutex_lock(&ctx->mutex);
	if (!ctx->open)
	{
		pthread_mutex_unlock(&ctx->mutex);
		return fail(errbuf, errlen, HS_GPU_ESTATE, "hybridsearch cuda: device %d is not open", device);
	}
	*out = ctx;
	return 0;
}

int
lock_matrix(const hs_gpu_matrix *m, DevCtx **out, char *errbuf, size_t errlen)
{
	if (!m)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: no matrix");
	return lock_device(m->ctx->device, out, errbuf, errlen);
}

void
close_locked(DevCtx &ctx)
{
	if (!ctx.open)
		return;
	cudaSetDevice(ctx.device);
	cudaStreamSynchronize(ctx.stream);
	if (ctx.select_stream)
		cudaStreamSynchronize(ctx.select_stream);
	if (ctx.graphs)
		graph_cache_clear(*ctx.graphs);
	delete ctx.graphs;
	ctx.graphs = NULL;
	dbuf_free(ctx.queries);
	dbuf_free(ctx.queries16);
	dbuf_free(ctx.qnorms32);
	dbuf_free(ctx.qnorms16);
	dbuf_free(ctx.cand);
	dbuf_free(ctx.cand_next);
	dbuf_free(ctx.dots[0]);
	dbuf_free(ctx.dots[1]);
	dbuf_free(ctx.stage[0]);
	dbuf_free(ctx.stage[1]);
	dbuf_free(ctx.sink);
	dbuf_free(ctx.bounds);
	flight_release(ctx.sync_flight);
	hbuf_free(ctx.host_stage[0]);
	hbuf_free(ctx.host_stage[1]);
	if (ctx.blas)
		cublasDestroy(ctx.blas);
	ctx.blas = NULL;
	if (ctx.ev_start) cudaEventDestroy(ctx.ev_start);
	if (ctx.ev_stop) cudaEventDestroy(ctx.ev_stop);
	if (ctx.stage_done[0]) cudaEventDestroy(ctx.stage_done[0]);
	if (ctx.stage_done[1]) cudaEventDestroy(ctx.stage_done[1]);
	ctx.ev_start = ctx.ev_stop = ctx.stage_done[0] = ctx.stage_done[1] = NULL;
	for (int i = 0; i < 2; i++)
	{
		if (ctx.dots_ready[i]) cudaEventDestroy(ctx.dots_ready[i]);
		if (ctx.dots_free[i]) cudaEventDestroy(ctx.dots_free[i]);
		ctx.dots_ready[i] = ctx.dots_free[i] = NULL;
	}
	if (ctx.stream)
		cudaStreamDestroy(ctx.stream);
	if (ctx.select_stream)
		cudaStreamDestroy(ctx.select_stream);
	ctx.stream = ctx.select_stream = NULL;
	delete ctx.tune_cache;
	delete ctx.smem_limits;
	ctx.tune_cache = NULL;
	ctx.smem_limits = NULL;
	ctx.open = 0;
}

int
open_locked(DevCtx &ctx, int device, char *errbuf, size_t errlen)
{
	int			count = 0;
	cublasStatus_t s;

	if (ctx.open)
		return 0;
	CUDA_CHECK(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
	if (device < 0 || device >= count)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: no device %d (%d present)", device, count);
	CUDA_CHECK(cudaSetDevice(device), "cudaSetDevice");
	CUDA_CHECK(cudaGetDeviceProperties(&ctx.prop, device), "cudaGetDeviceProperties");
	/* kernels write answers into pinned host memory by its host address */
	if (!ctx.prop.unifiedAddressing)
		return fail(errbuf, errlen, HS_GPU_ECUDA, "hybridsearch cuda: device %d lacks unified addressing",
					device);
	ctx.device = device;
	ctx.open = 1;				/* from here close_locked() cleans up */
	ctx.tune_cache = new std::map<TuneKey, TuneEntry>();
	ctx.smem_limits = new std::map<const void *, size_t>();
	ctx.graphs = new GraphCache();
	ctx.flight = &ctx.sync_flight;
	ctx.nvariants[0] = fused_variant_table<float>(&ctx.variants[0]);
	ctx.nvariants[1] = fused_variant_table<__half>(&ctx.variants[1]);
	ctx.ntensor_variants[0] = tensor_variant_table<float>(&ctx.tensor_variants[0]);
	ctx.ntensor_variants[1] = tensor_variant_table<__half>(&ctx.tensor_variants[1]);
	{
		int			rc = 0;
		cudaError_t e;

		if ((e = cudaStreamCreateWithFlags(&ctx.stream, cudaStreamNonBlocking)) != cudaSuccess ||
			(e = cudaEventCreate(&ctx.ev_start)) != cudaSuccess ||
			(e = cudaEventCreate(&ctx.ev_stop)) != cudaSuccess ||
			(e = cudaEventCreateWithFlags(&ctx.stage_done[0], cudaEventDisableTiming)) != cudaSuccess ||
			(e = cudaEventCreateWithFlags(&ctx.stage_done[1], cudaEventDisableTiming)) != cudaSuccess ||
			(e = cudaStreamCreateWithFlags(&ctx.select_stream, cudaStreamNonBlocking)) != cudaSuccess ||
			(e = cudaEventCreateWithFlags(&ctx.dots_ready[0], cudaEventDisableTiming)) != cudaSuccess ||
			(e = cudaEventCreateWithFlags(&ctx.dots_ready[1], cudaEventDisableTiming)) != cudaSuccess ||
			(e = cudaEventCreateWithFlags(&ctx.dots_free[0], cudaEventDisableTiming)) != cudaSuccess ||
			(e = cudaEventCreateWithFlags(&ctx.dots_free[1], cudaEventDisableTiming)) != cudaSuccess)
			rc = cuda_fail(errbuf, errlen, e, "creating stream/events");
		else if ((s = cublasCreate(&ctx.blas)) != CUBLAS_STATUS_SUCCESS)
		{
			ctx.blas = NULL;
			rc = blas_fail(errbuf, errlen, s, "cublasCreate");
		}
		else if ((s = cublasSetStream(ctx.blas, ctx.stream)) != CUBLAS_STATUS_SUCCESS)
			rc = blas_fail(errbuf, errlen, s, "cublasSetStream");
		else if ((s = cublasSetMathMode(ctx.blas, CUBLAS_DEFAULT_MATH)) != CUBLAS_STATUS_SUCCESS)
			rc = blas_fail(errbuf, errlen, s, "cublasSetMathMode");
		else
			rc = dbuf_reserve(ctx.sink, 256, errbuf, errlen, "sink");
		if (rc != 0)
		{
			close_locked(ctx);
			return rc;
		}
	}
	snprintf(ctx.last_variant, sizeof(ctx.last_variant), "none");
	return 0;
}

int
flight_ready(DevCtx &ctx, Flight &flight, char *errbuf, size_t errlen)
{
	cudaError_t e;

	if (flight.device == ctx.device)
		return 0;
	flight_release(flight);
	if ((e = cudaEventCreate(&flight.ev_start)) == cudaSuccess &&
		(e = cudaEventCreate(&flight.ev_stop)) != cudaSuccess)
		cudaEventDestroy(flight.ev_start);
	if (e != cudaSuccess)
	{
		flight.ev_start = flight.ev_stop = NULL;
		return cuda_fail(errbuf, errlen, e, "creating a search's events");
	}
	flight.device = ctx.device;
	return 0;
}

void
flight_release(Flight &flight)
{
	if (flight.device >= 0)
	{
		cudaSetDevice(flight.device);
		cudaEventDestroy(flight.ev_start);
		cudaEventDestroy(flight.ev_stop);
	}
	hbuf_free(flight.host_queries);
	hbuf_free(flight.host_out_dist);
	hbuf_free(flight.host_out_rows);
	flight = Flight();
}

int
set_max_smem(DevCtx &ctx, const void *fn, size_t *limit, char *errbuf, size_t errlen)
{
	std::map<const void *, size_t>::iterator it = ctx.smem_limits->find(fn);
	cudaFuncAttributes fa;
	size_t		lim;

	if (it != ctx.smem_limits->end())
	{
		*limit = it->second;
		return 0;
	}
	CUDA_CHECK(cudaFuncGetAttributes(&fa, fn), "cudaFuncGetAttributes");
	lim = ctx.prop.sharedMemPerBlockOptin - fa.sharedSizeBytes;
	CUDA_CHECK(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int) lim),
			   "cudaFuncSetAttribute");
	(*ctx.smem_limits)[fn] = lim;
	*limit = lim;
	return 0;
}
