/*
 * search.cu
 *	  One search on one matrix (search.h): the query upload, the plan, its
 *	  launches (launch.h), and the answer.
 *
 * A search of the GEMM path over several chunks, seen before with a settled
 * plan, replays its launches, the query upload included, as one CUDA graph
 * (graph_cache.h).  The autotuner's runs of such a plan are replays too
 * (tuning_run), so that it compares the plans as they would run.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "device_context.h"
#include "graph_cache.h"
#include "impl/convert.h"
#include "launch.h"
#include "matrix.h"
#include "search.h"
#include "utils/errors.h"
#include "utils/int_math.h"

/* queries uploaded for a batch of nq: a multiple of the largest fused query
 * tile, so that fused blocks read no further */
static int
query_pad(int nq)
{
	return (int) round_up(nq, 16);
}

int
reserve_query_buffers(hs_gpu_matrix *m, int nq_pad, char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	int			rc;

	if ((rc = dbuf_reserve(ctx.queries, (size_t) nq_pad * m->ld * 4, errbuf, errlen, "query buffer")) != 0 ||
		(rc = dbuf_reserve(ctx.queries16, (size_t) nq_pad * m->ld * 2, errbuf, errlen, "query buffer")) != 0 ||
		(rc = dbuf_reserve(ctx.qnorms32, (size_t) nq_pad * 4, errbuf, errlen, "query norms")) != 0 ||
		(rc = dbuf_reserve(ctx.qnorms16, (size_t) nq_pad * 4, errbuf, errlen, "query norms")) != 0)
		return rc;
	return 0;
}

/*
 * The query upload and the query norms (and fp16 copies): before the plan is
 * chosen, since tuning runs on these queries.
 */
static int
enqueue_queries(hs_gpu_matrix *m, int nq_pad, char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;

	CUDA_CHECK(cudaMemcpyAsync(ctx.queries.ptr, ctx.flight->host_queries.ptr, (size_t) nq_pad * m->ld * 4,
							   cudaMemcpyHostToDevice, ctx.stream),
			   "copying queries");
	launch_prep_queries((const float *) ctx.queries.ptr, nq_pad, m->ld, (float *) ctx.qnorms32.ptr,
						(float *) ctx.qnorms16.ptr, m->half ? (__half *) ctx.queries16.ptr : NULL, ctx.stream);
	CUDA_CHECK_LAUNCH("query preparation kernel");
	return 0;
}

/*
 * The launch's kernels between the timing events.  final_kernel writes the
 * answer straight into pinned host memory (unified addressing maps it): no
 * copies after the kernels.
 */
static int
enqueue_kernels(hs_gpu_matrix *m, const Launch &launch, bool capturing, char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	int			rc;

	CUDA_CHECK(graph_record_event(ctx.flight->ev_start, ctx.stream, capturing), "cudaEventRecord");
	if ((rc = execute(m, launch, errbuf, errlen)) != 0)
		return rc;
	CUDA_CHECK(graph_record_event(ctx.flight->ev_stop, ctx.stream, capturing), "cudaEventRecord");
	return 0;
}

/* size *plan's launches; a fused plan that does not fit becomes the smallest query tile */
static int
prepare_or_shrink(hs_gpu_matrix *m, Plan *plan, int metric, int nq, int k, Launch &launch,
				  char *errbuf, size_t errlen)
{
	int			rc = prepare(m, *plan, metric, nq, k, launch, errbuf, errlen);

	if (rc < 0 && !plan->gemm)
	{
		*plan = smallest_tile_plan(m, metric);
		rc = plan->fv ? prepare(m, *plan, metric, nq, k, launch, errbuf, errlen) : -1;
	}
	if (rc < 0)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: k = %d does not fit in shared memory", k);
	return rc;
}

/*
 * A search seen before with a settled plan (graph_cache.h): captured with
 * its query upload, and launched; run directly when the capture fails.
 * *ran is the plan that ran.
 */
static int
capture_search(hs_gpu_matrix *m, GraphSlot *slot, const Plan &settled, int metric, int nq, int nq_pad,
			   int k, Plan *ran, bool *graphed, char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	Launch		launch;
	int			rc;

	*ran = settled;
	if ((rc = prepare_or_shrink(m, ran, metric, nq, k, launch, errbuf, errlen)) != 0)
		return rc;
	if (graph_begin_capture(ctx))
	{
		bool		enqueued = enqueue_queries(m, nq_pad, errbuf, errlen) == 0 &&
			enqueue_kernels(m, launch, true, errbuf, errlen) == 0;

		/* the key after prepare: its buffers are the ones captured */
		*graphed = graph_end_capture(ctx, slot, graph_key(m, settled, metric, nq, k), *ran, enqueued);
		if (*graphed)
			return 0;
	}
	if ((rc = enqueue_queries(m, nq_pad, errbuf, errlen)) != 0)
		return rc;
	return enqueue_kernels(m, launch, false, errbuf, errlen);
}

/* a search run call by call: upload, plan (perhaps a tuning step), launch */
static int
direct_search(hs_gpu_matrix *m, int metric, int nq, int nq_pad, int k, Plan *ran,
			  char *errbuf, size_t errlen)
{
	Launch		launch;
	int			rc;

	if ((rc = enqueue_queries(m, nq_pad, errbuf, errlen)) != 0 ||
		(rc = choose_plan(m, metric, nq, k, ran, errbuf, errlen)) != 0 ||
		(rc = prepare_or_shrink(m, ran, metric, nq, k, launch, errbuf, errlen)) != 0)
		return rc;
	return enqueue_kernels(m, launch, false, errbuf, errlen);
}

/*
 * Whether a graph is worth it: on the H200 it shortened the GEMM path of
 * several chunks (two streams, events, three kernels a chunk) by 4-9% at
 * 64-128 queries, and lengthened a search of one or two launches by about
 * 0.008 ms of the call (doc/gpu-kernels.md, "Graphs, and no copies after
 * the kernels").
 */
static bool
worth_a_graph(const hs_gpu_matrix *m, const Plan &plan, int nq)
{
	return plan.gemm && gemm_over_chunks(m, nq);
}

/*
 * The search's work on the stream: a captured graph, a capture, or call by
 * call; *graphed says whether a graph runs it.
 */
static int
enqueue_search(hs_gpu_matrix *m, int metric, int nq, int nq_pad, int k, Plan *ran, bool *graphed,
			   char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	GraphSlot  *slot = NULL;
	GraphState	state = GRAPH_DIRECT;
	Plan		settled;

	*graphed = false;
	if (settled_plan(m, metric, nq, k, &settled) && worth_a_graph(m, settled, nq))
		state = graph_lookup(ctx, graph_key(m, settled, metric, nq, k), &slot);
	if (state == GRAPH_READY)
	{
		*ran = slot->ran;
		*graphed = true;
		CUDA_CHECK(cudaGraphLaunch(slot->exec, ctx.stream), "cudaGraphLaunch");
		return 0;
	}
	if (state == GRAPH_SEEN)
		return capture_search(m, slot, settled, metric, nq, nq_pad, k, ran, graphed, errbuf, errlen);
	return direct_search(m, metric, nq, nq_pad, k, ran, errbuf, errlen);
}

int
tuning_run(hs_gpu_matrix *m, const Plan &plan, int metric, int nq, int k, float *ms,
		   char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	GraphSlot  *slot = NULL;
	GraphState	state = GRAPH_DIRECT;
	Launch		launch;
	Plan		ran;
	bool		graphed;
	int			rc = prepare(m, plan, metric, nq, k, launch, errbuf, errlen);

	if (rc != 0)
		return rc;
	/* the key after prepare, as capture_search takes it */
	if (worth_a_graph(m, plan, nq))
		state = graph_lookup(ctx, graph_key(m, plan, metric, nq, k), &slot);
	if (state == GRAPH_READY)
		CUDA_CHECK(cudaGraphLaunch(slot->exec, ctx.stream), "cudaGraphLaunch");
	else if (state != GRAPH_DIRECT)
		rc = capture_search(m, slot, plan, metric, nq, query_pad(nq), k, &ran, &graphed, errbuf, errlen);
	else
		rc = enqueue_kernels(m, launch, false, errbuf, errlen);
	if (rc != 0)
		return rc;
	CUDA_CHECK(cudaStreamSynchronize(ctx.stream), "autotune run");
	CUDA_CHECK(cudaEventElapsedTime(ms, ctx.flight->ev_start, ctx.flight->ev_stop), "cudaEventElapsedTime");
	return 0;
}

/* the queries, zero padded to m's row width and to nq_pad, in flight's pinned memory */
static int
stage_queries(hs_gpu_matrix *m, Flight &flight, const float *queries, int nq, int nq_pad,
			  char *errbuf, size_t errlen)
{
	float	   *hq;
	int			rc;

	if ((rc = hbuf_reserve(flight.host_queries, (size_t) nq_pad * m->ld * 4, errbuf, errlen,
						   "query staging")) != 0)
		return rc;
	hq = (float *) flight.host_queries.ptr;
	memset(hq, 0, (size_t) nq_pad * m->ld * 4);
	for (int q = 0; q < nq; q++)
		memcpy(hq + (size_t) q * m->ld, queries + (size_t) q * m->dim, (size_t) m->dim * 4);
	return 0;
}

int
search_start_locked(hs_gpu_matrix *m, Flight &flight, int metric, const float *queries, int nq,
					int k, char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	int			nq_pad;
	int			rc;

	if (metric < HS_GPU_L2 || metric > HS_GPU_L1)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: unknown metric %d", metric);
	if (k < 1 || k > HS_GPU_MAX_K)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: k = %d out of range 1..%d", k,
					HS_GPU_MAX_K);
	if (nq < 0 || (nq > 0 && !queries))
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: bad query arguments");
	CUDA_CHECK(cudaSetDevice(ctx.device), "cudaSetDevice");
	/* first: making the events anew starts the flight over */
	if ((rc = flight_ready(ctx, flight, errbuf, errlen)) != 0)
		return rc;
	flight.nq = nq;
	flight.k = k;
	flight.empty = nq == 0 || m->rows == 0;
	if (flight.empty)
		return 0;
	ctx.flight = &flight;
	nq_pad = query_pad(nq);
	if ((rc = stage_queries(m, flight, queries, nq, nq_pad, errbuf, errlen)) != 0 ||
		(rc = reserve_query_buffers(m, nq_pad, errbuf, errlen)) != 0)
		return rc;
	return enqueue_search(m, metric, nq, nq_pad, k, &flight.ran, &flight.graphed, errbuf, errlen);
}

int
search_finish_locked(hs_gpu_matrix *m, Flight &flight, float *out_d, int64_t *out_i,
					 float *kernel_ms, char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	size_t		n = (size_t) flight.nq * flight.k;
	float		ms = 0.0f;

	if (kernel_ms)
		*kernel_ms = 0.0f;
	if (flight.empty)
	{
		for (size_t i = 0; i < n; i++)
		{
			out_d[i] = INFINITY;
			out_i[i] = -1;
		}
		if (flight.nq > 0)
		{
			snprintf(ctx.last_variant, sizeof(ctx.last_variant), "empty");
			last_device = ctx.device;
		}
		return 0;
	}
	CUDA_CHECK(cudaSetDevice(ctx.device), "cudaSetDevice");
	/* the search's own event: a search started after it may still run */
	CUDA_CHECK(cudaEventSynchronize(flight.ev_stop), "search");
	CUDA_CHECK(cudaEventElapsedTime(&ms, flight.ev_start, flight.ev_stop), "cudaEventElapsedTime");
	memcpy(out_d, flight.host_out_dist.ptr, n * 4);
	memcpy(out_i, flight.host_out_rows.ptr, n * 8);
	if (kernel_ms)
		*kernel_ms = ms;
	plan_name(flight.ran, ctx.last_variant, sizeof(ctx.last_variant));
	if (flight.graphed)
		strncat(ctx.last_variant, " [graph]", sizeof(ctx.last_variant) - strlen(ctx.last_variant) - 1);
	last_device = ctx.device;
	return 0;
}

int
search_locked(hs_gpu_matrix *m, int metric, const float *queries, int nq, int k,
			  float *out_d, int64_t *out_i, float *kernel_ms, char *errbuf, size_t errlen)
{
	Flight	   &flight = m->ctx->sync_flight;
	int			rc;

	if (nq > 0 && (!out_d || !out_i))
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: bad output arguments");
	if ((rc = search_start_locked(m, flight, metric, queries, nq, k, errbuf, errlen)) != 0)
	{
		if (kernel_ms)
			*kernel_ms = 0.0f;
		return rc;
	}
	return search_finish_locked(m, flight, out_d, out_i, kernel_ms, errbuf, errlen);
}
