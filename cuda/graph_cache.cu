/*
 * graph_cache.cu
 *	  Searches replayed as CUDA graphs (graph_cache.h).
 */
#include <string.h>

#include "device_context.h"
#include "graph_cache.h"
#include "matrix.h"
#include "utils/buffers.h"

static int	graphs_enabled = 1;

void
set_graphs_enabled(int on)
{
	graphs_enabled = on;
}

GraphKey
graph_key(const hs_gpu_matrix *m, const Plan &plan, int metric, int nq, int k)
{
	GraphKey	key;

	key.m = m;
	key.data = m->data;
	key.norms = m->norms;
	key.rows = m->rows;
	key.ld = m->ld;
	key.half = m->half;
	key.nq = nq;
	key.k = k;
	key.metric = metric;
	key.plan = plan;
	key.flight = m->ctx->flight;
	key.buffers = scratch_generation();
	return key;
}

static bool
key_equal(const GraphKey &a, const GraphKey &b)
{
	return a.m == b.m && a.data == b.data && a.norms == b.norms && a.rows == b.rows &&
		a.ld == b.ld && a.half == b.half && a.nq == b.nq && a.k == b.k && a.metric == b.metric &&
		a.plan.gemm == b.plan.gemm && a.plan.fv == b.plan.fv && a.plan.tv == b.plan.tv &&
		a.flight == b.flight && a.buffers == b.buffers;
}

static void
slot_release(GraphSlot &slot)
{
	if (slot.exec)
		cudaGraphExecDestroy(slot.exec);
	memset(&slot, 0, sizeof(slot));
}

GraphState
graph_lookup(DevCtx &ctx, const GraphKey &key, GraphSlot **out)
{
	GraphCache &cache = *ctx.graphs;
	GraphSlot  *oldest = &cache.slots[0];

	*out = NULL;
	if (!graphs_enabled)
		return GRAPH_DIRECT;
	cache.clock++;
	for (int i = 0; i < GRAPH_SLOTS; i++)
	{
		GraphSlot  &slot = cache.slots[i];

		if (slot.used != 0 && key_equal(slot.key, key))
		{
			slot.used = cache.clock;
			if (slot.state == GRAPH_NEW)
				slot.state = GRAPH_SEEN;
			*out = &slot;
			return slot.state;
		}
		if (slot.used < oldest->used)
			oldest = &slot;
	}
	slot_release(*oldest);
	oldest->key = key;
	oldest->used = cache.clock;
	oldest->state = GRAPH_NEW;
	*out = oldest;
	return GRAPH_NEW;
}

bool
graph_begin_capture(DevCtx &ctx)
{
	/* thread-local: other devices' threads (hs_gpu_search_parts) go on */
	if (cudaStreamBeginCapture(ctx.stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess)
		return true;
	cudaGetLastError();
	return false;
}

bool
graph_end_capture(DevCtx &ctx, GraphSlot *slot, const GraphKey &key, const Plan &ran, bool enqueued)
{
	cudaGraph_t graph = NULL;
	cudaGraphExec_t exec = NULL;
	bool		ok;

	ok = cudaStreamEndCapture(ctx.stream, &graph) == cudaSuccess && enqueued && graph != NULL &&
		cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
	if (graph)
		cudaGraphDestroy(graph);
	if (ok && cudaGraphLaunch(exec, ctx.stream) != cudaSuccess)
		ok = false;
	slot_release(*slot);
	slot->key = key;
	slot->used = ctx.graphs->clock;
	if (!ok)
	{
		if (exec)
			cudaGraphExecDestroy(exec);
		cudaGetLastError();
		slot->state = GRAPH_DIRECT;
		return false;
	}
	slot->exec = exec;
	slot->ran = ran;
	slot->state = GRAPH_READY;
	return true;
}

cudaError_t
graph_record_event(cudaEvent_t event, cudaStream_t stream, bool capturing)
{
	/* inside a capture a plain record only orders streams; external makes it a timed node */
	return capturing ? cudaEventRecordWithFlags(event, stream, cudaEventRecordExternal) :
		cudaEventRecord(event, stream);
}

void
graph_cache_clear(GraphCache &cache)
{
	for (int i = 0; i < GRAPH_SLOTS; i++)
		slot_release(cache.slots[i]);
	cache.clock = 0;
}
