/*
 * launch.cu
 *	  A Plan sized for one matrix, batch and k (prepare), and its kernels
 *	  enqueued on the device's streams (execute): launch.h.
 *
 * Pipeline (doc/gpu-kernels.md):
 *   fused path:  fused_kernel writes one sorted list per (query, chunk of
 *                rows); the merge passes reduce them to one per query.
 *   tensor path: tensor_kernel, the same lists from tensor-core products.
 *   GEMM path:   per chunk of rows, cublasGemmEx writes the dot products and
 *                gemm_select_kernel keeps one sorted list per (query,
 *                segment), under a bound sampled from the first chunk
 *                (gemm_sample_bound_kernel).  With several chunks, list 0
 *                of each query is a running top-k merged after every
 *                chunk; with one chunk, the merge passes below.
 *   all:         final_kernel writes distances and row numbers.
 */
#include <string.h>
#include <algorithm>

#include "device_context.h"
#include "impl/fused.cuh"
#include "impl/gemm.cuh"
#include "impl/merge.cuh"
#include "impl/tensor.cuh"
#include "launch.h"
#include "matrix.h"
#include "utils/errors.h"
#include "utils/int_math.h"
#include "utils/warp_select.cuh"

/* warps per merge or select block (at most 4) that fit one list each in
 * shared memory; 0 when not even one does */
static int
list_warps_per_block(DevCtx &ctx, int k, size_t *smem)
{
	size_t		per = (size_t) warp_list_keys(k) * sizeof(u64);
	int			w = (int) std::min<size_t>(4, ctx.prop.sharedMemPerBlockOptin / per);

	if (w < 1)
		return 0;
	*smem = per * w;
	return w;
}

/* rows of a GEMM chunk: a distance buffer of GEMM_DIST_BYTES, which stays in L2 */
static long long
gemm_chunk_rows(long long n, int nq)
{
	long long	chunk_rows = (long long) (GEMM_DIST_BYTES / ((size_t) nq * 4)) / 256 * 256;

	return std::min(std::max(chunk_rows, 16384LL), round_up(n, 256));
}

/*
 * The grid of a fused or tensor kernel (fn, threads a block, tile_rows a
 * step, tq queries a block, launch.fused_smem set): chunks of rows for one
 * wave of blocks over the query tiles.  On the H200 (1M x 768, the
 * autotuner's times) one query's fused kernel took 1-3% less than with two
 * waves and 2-5% less than with four, fp32 and fp16, since fewer lists are
 * left for the merge passes.  -1 when not one block fits.
 */
static int
one_wave(hs_gpu_matrix *m, const void *fn, int threads, int tile_rows, int tq, Launch &launch,
		 char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	long long	n = m->rows;
	int			blocks_per_sm = 0;
	long long	target;

	CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks_per_sm, fn, threads,
															 launch.fused_smem),
			   "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
	if (blocks_per_sm < 1)
		return -1;
	target = (long long) ctx.prop.multiProcessorCount * blocks_per_sm;
	launch.fused_chunks = (int) std::max(1LL, std::min(ceil_div(n, tile_rows),
														ceil_div(target, ceil_div(launch.nq, tq))));
	launch.fused_chunks = std::min(launch.fused_chunks, 65535);
	launch.rows_per_block = round_up(ceil_div(n, launch.fused_chunks), tile_rows);
	launch.fused_chunks = (int) ceil_div(n, launch.rows_per_block);
	launch.lists_per_query = launch.fused_chunks;
	return 0;
}

int
prepare(hs_gpu_matrix *m, const Plan &plan, int metric, int nq, int k, Launch &launch,
		char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	long long	n = m->rows;
	int			rc;
	size_t		smem_limit;

	memset(&launch, 0, sizeof(launch));
	launch.plan = plan;
	launch.nq = nq;
	launch.k = k;
	launch.metric = metric;
	launch.merge_warps = list_warps_per_block(ctx, k, &launch.merge_smem);
	if (launch.merge_warps == 0)
		return -1;
	if ((rc = set_max_smem(ctx, (const void *) merge_kernel, &smem_limit, errbuf, errlen)) != 0)
		return rc;

	if (plan.fv)
	{
		const FusedVariant *fv = plan.fv;

		if ((rc = set_max_smem(ctx, fv->fn, &smem_limit, errbuf, errlen)) != 0)
			return rc;
		launch.qstaged = (size_t) fv->tq * m->ld * sizeof(float) <= QSTAGE_MAX;
		launch.fused_smem = fused_smem_bytes(fv->tq, fused_tile_rows(fv->lpr, fv->r), m->ld, k,
											 launch.qstaged);
		if (launch.fused_smem > smem_limit)
		{
			launch.qstaged = 0;
			launch.fused_smem = fused_smem_bytes(fv->tq, fused_tile_rows(fv->lpr, fv->r), m->ld, k, 0);
			if (launch.fused_smem > smem_limit)
				return -1;
		}
		if ((rc = one_wave(m, fv->fn, FUSED_THREADS, fused_tile_rows(fv->lpr, fv->r), fv->tq, launch,
						   errbuf, errlen)) != 0)
			return rc;
	}
	else if (plan.tv)
	{
		const TensorVariant *tv = plan.tv;
		int			tr = tensor_tile_rows(tv->warps, tv->mt);

		if ((rc = set_max_smem(ctx, tv->fn, &smem_limit, errbuf, errlen)) != 0)
			return rc;
		launch.fused_smem = tensor_smem_layout(NULL, tv->tq, tv->warps, tv->mt, tv->stages, tv->slack,
											   m->ld, m->half ? 2 : 4, k, NULL);
		if (launch.fused_smem > smem_limit)
			return -1;
		if ((rc = one_wave(m, tv->fn, 32 * tv->warps, tr, tv->tq, launch, errbuf, errlen)) != 0)
			return rc;
	}
	else
	{
		long long	chunk_rows = gemm_chunk_rows(n, nq);
		long long	min_seg_len;

		launch.gemm_chunk_rows = chunk_rows;
		launch.dots_ld = (int) round_up(chunk_rows, 4);
		launch.gemm_chunks = (int) ceil_div(n, chunk_rows);
		min_seg_len = round_up(std::max(512, 2 * k), 128);
		launch.segs_per_chunk = (int) std::max(1LL, std::min(ceil_div(chunk_rows, min_seg_len),
									ceil_div((long long) ctx.prop.multiProcessorCount * 32, nq)));
		/*
		 * Several chunks: list 0 of each query is a running top-k that one
		 * warp merges with the chunk's lists after each chunk, so the shared
		 * bound is the k-th key of every row seen so far; the lists of a
		 * chunk are then at most MERGE_FANIN - 1.  One chunk: tree merge.
		 */
		launch.running = launch.gemm_chunks > 1;
		if (launch.running)
			launch.segs_per_chunk = std::min(launch.segs_per_chunk, MERGE_FANIN - 1);
		launch.seg_len = (int) round_up(ceil_div(chunk_rows, launch.segs_per_chunk), 128);
		launch.segs_per_chunk = (int) ceil_div(chunk_rows, launch.seg_len);
		launch.select_warps = list_warps_per_block(ctx, k, &launch.select_smem);
		if ((rc = set_max_smem(ctx, (const void *) gemm_select_kernel, &smem_limit,
							   errbuf, errlen)) != 0)
			return rc;
		launch.lists_per_query = launch.running ? 1 + launch.segs_per_chunk : launch.segs_per_chunk;
		launch.sample_bound = k <= BOUND_SAMPLE_MAX_K &&
			std::min<long long>(chunk_rows, n) >= BOUND_SAMPLE_MIN_ROWS;
		for (int i = 0; i < (launch.gemm_chunks > 1 ? 2 : 1); i++)
			if ((rc = dbuf_reserve(ctx.dots[i], (size_t) nq * launch.dots_ld * 4, errbuf, errlen,
								   "GEMM distance buffer")) != 0)
				return rc;
	}

	if ((rc = dbuf_reserve(ctx.cand, (size_t) nq * launch.lists_per_query * k * 8, errbuf, errlen,
						   "candidate buffer")) != 0)
		return rc;
	if ((rc = dbuf_reserve(ctx.cand_next,
						   (size_t) nq * std::max(1LL, ceil_div(launch.lists_per_query, MERGE_FANIN)) * k * 8,
						   errbuf, errlen, "candidate buffer")) != 0)
		return rc;
	if ((rc = hbuf_reserve(ctx.flight->host_out_dist, (size_t) nq * k * 4, errbuf, errlen, "result buffer")) != 0)
		return rc;
	if ((rc = dbuf_reserve(ctx.bounds, (size_t) nq * 8, errbuf, errlen, "threshold buffer")) != 0)
		return rc;
	if ((rc = hbuf_reserve(ctx.flight->host_out_rows, (size_t) nq * k * 8, errbuf, errlen, "result buffer")) != 0)
		return rc;
	return 0;
}

/*
 * The GEMM path, chunk after chunk.  With several chunks the dot products
 * alternate between two buffers, and each chunk's selection and running
 * merge go on the select stream, so that they overlap the next chunk's
 * product on the main stream: events hand each buffer from product to
 * selection (dots_ready) and back (dots_free).  The main stream waits for
 * the last selection; with a running top-k it also writes the answer.
 */
static int
enqueue_gemm_chunks(hs_gpu_matrix *m, const Launch &launch, u64 *cand, u64 *bounds,
					char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	long long	n = m->rows;
	int			nq = launch.nq,
				k = launch.k;
	const float *qn = (const float *) (m->half ? ctx.qnorms16.ptr : ctx.qnorms32.ptr);
	cudaStream_t sel = launch.running ? ctx.select_stream : ctx.stream;
	long long	tasks = (long long) nq * launch.segs_per_chunk;

	if (launch.running)
		CUDA_CHECK(cudaMemsetAsync(cand, 0xff, (size_t) nq * launch.lists_per_query * k * 8, ctx.stream),
				   "cudaMemsetAsync");
	for (int c = 0; c < launch.gemm_chunks; c++)
	{
		long long	row0 = (long long) c * launch.gemm_chunk_rows;
		int			rows_c = (int) std::min<long long>(launch.gemm_chunk_rows, n - row0);
		float	   *dots = (float *) ctx.dots[c & 1].ptr;
		int			rc;

		if (c >= 2)
			CUDA_CHECK(cudaStreamWaitEvent(ctx.stream, ctx.dots_free[c & 1], 0), "cudaStreamWaitEvent");
		if ((rc = gemm_chunk(m, row0, rows_c, nq, dots, launch.dots_ld, errbuf, errlen)) != 0)
			return rc;
		if (launch.running)
		{
			CUDA_CHECK(cudaEventRecord(ctx.dots_ready[c & 1], ctx.stream), "cudaEventRecord");
			CUDA_CHECK(cudaStreamWaitEvent(sel, ctx.dots_ready[c & 1], 0), "cudaStreamWaitEvent");
		}
		if (c == 0 && launch.sample_bound)
		{
			gemm_sample_bound_kernel<<<nq, BOUND_SAMPLE_THREADS, 0, sel>>>(
				dots, launch.dots_ld, rows_c, row0, m->norms, qn, launch.metric, k, bounds);
			CUDA_CHECK_LAUNCH("sampled bound kernel");
		}
		gemm_select_kernel<<<(unsigned) ceil_div(tasks, launch.select_warps), 32 * launch.select_warps,
			launch.select_smem, sel>>>(
			dots, launch.dots_ld, rows_c, row0, m->norms, qn, launch.metric, nq, k, launch.seg_len,
			launch.segs_per_chunk, cand, launch.lists_per_query,
			launch.running ? 1 : c * launch.segs_per_chunk, bounds);
		CUDA_CHECK_LAUNCH("select kernel");
		if (launch.running)
		{
			/* running top-k (list 0) += this chunk's lists, in place */
			merge_kernel<<<(unsigned) ceil_div(nq, launch.merge_warps), 32 * launch.merge_warps,
				launch.merge_smem, sel>>>(
				cand, launch.lists_per_query, k, launch.lists_per_query, cand, launch.lists_per_query,
				1, nq, bounds);
			CUDA_CHECK_LAUNCH("merge kernel");
			CUDA_CHECK(cudaEventRecord(ctx.dots_free[c & 1], sel), "cudaEventRecord");
		}
	}
	if (launch.running)
	{
		CUDA_CHECK(cudaStreamWaitEvent(ctx.stream, ctx.dots_free[(launch.gemm_chunks - 1) & 1], 0),
				   "cudaStreamWaitEvent");
		final_kernel<<<nq, 256, 0, ctx.stream>>>(cand, launch.lists_per_query, k, launch.metric,
												 (float *) ctx.flight->host_out_dist.ptr,
												 (long long *) ctx.flight->host_out_rows.ptr);
		CUDA_CHECK_LAUNCH("final kernel");
	}
	return 0;
}

/*
 * A fused or tensor kernel over m's rows: one sorted list per (query, chunk
 * of rows) into cand.  The tensor kernel multiplies fp16 queries by fp16
 * rows, the fused kernel takes them in fp32.
 */
static int
launch_fused(hs_gpu_matrix *m, const Launch &launch, u64 *cand, u64 *bounds, char *errbuf,
			 size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	const Plan &plan = launch.plan;
	bool		fp16_queries = plan.tv && m->half;
	const void *fn = plan.tv ? plan.tv->fn : plan.fv->fn;
	int			tq = plan.tv ? plan.tv->tq : plan.fv->tq;
	int			threads = plan.tv ? 32 * plan.tv->warps : FUSED_THREADS;
	FusedArgs	fused_args;
	void	   *args[1] = {&fused_args};

	fused_args.rows = m->data;
	fused_args.rnorm = m->norms;
	fused_args.nrows = m->rows;
	fused_args.ld = m->ld;
	fused_args.queries = (const float *) (fp16_queries ? ctx.queries16.ptr : ctx.queries.ptr);
	fused_args.qnorm = (const float *) (fp16_queries ? ctx.qnorms16.ptr : ctx.qnorms32.ptr);
	fused_args.nq = launch.nq;
	fused_args.k = launch.k;
	fused_args.rows_per_block = launch.rows_per_block;
	fused_args.metric = launch.metric;
	fused_args.qstaged = launch.qstaged;
	fused_args.cand = cand;
	fused_args.nchunks = launch.fused_chunks;
	fused_args.bounds = bounds;
	CUDA_CHECK(cudaLaunchKernel(fn, dim3((unsigned) ceil_div(launch.nq, tq), launch.fused_chunks),
								dim3(threads), args, launch.fused_smem, ctx.stream),
			   "fused kernel launch");
	CUDA_CHECK_LAUNCH(plan.tv ? "tensor kernel" : "fused kernel");
	return 0;
}

int
execute(hs_gpu_matrix *m, const Launch &launch, char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	int			nq = launch.nq,
				k = launch.k;
	u64		   *cur = (u64 *) ctx.cand.ptr;
	u64		   *next = (u64 *) ctx.cand_next.ptr;
	u64		   *bounds = (u64 *) ctx.bounds.ptr;
	int			nlists = launch.lists_per_query;
	int			rc;

	CUDA_CHECK(cudaMemsetAsync(bounds, 0xff, (size_t) nq * 8, ctx.stream), "cudaMemsetAsync");
	if (!launch.plan.gemm)
	{
		if ((rc = launch_fused(m, launch, cur, bounds, errbuf, errlen)) != 0)
			return rc;
	}
	else
	{
		rc = enqueue_gemm_chunks(m, launch, cur, bounds, errbuf, errlen);
		if (rc != 0 && launch.running)
		{
			/* the next search must not find this one's selection running */
			cudaStreamSynchronize(ctx.select_stream);
		}
		if (rc != 0 || launch.running)
			return rc;
	}

	/* tree merge: MERGE_FANIN lists into one per pass */
	while (nlists > 1)
	{
		int			nout = (int) ceil_div(nlists, MERGE_FANIN);
		long long	tasks = (long long) nq * nout;

		merge_kernel<<<(unsigned) ceil_div(tasks, launch.merge_warps), 32 * launch.merge_warps,
			launch.merge_smem, ctx.stream>>>(
			cur, nlists, k, MERGE_FANIN, next, nout, nout, nq, bounds);
		CUDA_CHECK_LAUNCH("merge kernel");
		std::swap(cur, next);
		nlists = nout;
	}
	final_kernel<<<nq, 256, 0, ctx.stream>>>(cur, 1, k, launch.metric,
											 (float *) ctx.flight->host_out_dist.ptr,
											 (long long *) ctx.flight->host_out_rows.ptr);
	CUDA_CHECK_LAUNCH("final kernel");
	return 0;
}

bool
gemm_over_chunks(const hs_gpu_matrix *m, int nq)
{
	return gemm_chunk_rows(m->rows, nq) < m->rows;
}
