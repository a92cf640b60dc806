/*
 * graph_cache.h
 *	  A search's stream work kept as a CUDA graph and replayed, per device.
 *
 * A GEMM search over several chunks is 20-40 operations on two streams (the
 * query upload and norms, then per chunk a product, a selection and a merge,
 * handing buffers over by events), each issued by the host in turn, with
 * gaps between them on the GPU.  A search whose every launch argument equals
 * an earlier one's replays all of it as one graph launch instead: 4-9% less
 * kernel time at 64-128 queries on the H200.  Searches of one or two
 * launches run call by call, where a graph gained nothing
 * (search.cu, worth_a_graph).
 *
 * The key holds every value the captured launches depend on: the matrix's
 * storage (pointers and rows), the batch, k, metric and plan, the flight
 * (device_context.h: its pinned memory and events), and the generation of the scratch buffers, which changes whenever any of them is
 * reallocated.  Equal keys therefore mean identical launches, whatever
 * happened in between; a key that differs only misses.  A key is captured
 * the second time it is seen, so that a matrix growing between searches
 * (inserts) does not pay a capture per search.
 */
#ifndef HS_GRAPH_CACHE_H
#define HS_GRAPH_CACHE_H

#include <stdint.h>
#include <cuda_runtime.h>

#include "hs_gpu.h"
#include "plan.h"

struct DevCtx;
struct Flight;

struct GraphKey
{
	const hs_gpu_matrix *m;
	const void *data;
	const float *norms;
	int64_t		rows;
	int			ld, half;
	int			nq, k, metric;
	Plan		plan;
	const Flight *flight;
	unsigned long long buffers; /* scratch_generation() when the launches were sized */
};

/* where a key stands */
enum GraphState
{
	GRAPH_NEW,					/* first seen now: run directly */
	GRAPH_SEEN,					/* seen before, not captured: capture it now */
	GRAPH_READY,				/* captured: launch the graph */
	GRAPH_DIRECT				/* the capture failed, or graphs are off: run directly */
};

#define GRAPH_SLOTS 64

struct GraphSlot
{
	GraphKey	key;
	cudaGraphExec_t exec;		/* GRAPH_READY only */
	Plan		ran;			/* ... and the plan it runs */
	GraphState	state;
	unsigned long long used;	/* clock of the last use; 0 = free */
};

struct GraphCache
{
	GraphSlot	slots[GRAPH_SLOTS];
	unsigned long long clock;
};

/* the key of a search on m with that plan, batch, k and metric, now */
GraphKey	graph_key(const hs_gpu_matrix *m, const Plan &plan, int metric, int nq, int k);

/*
 * How to run the search of key, and *slot its slot, found or taken (the
 * least recently used one is evicted).  With graphs off, GRAPH_DIRECT and no
 * slot.
 */
GraphState	graph_lookup(DevCtx &ctx, const GraphKey &key, GraphSlot **slot);

/*
 * Capture the stream work issued between these two calls (it must neither
 * synchronise nor allocate) into slot under key.  graph_end_capture
 * instantiates and launches the graph when enqueued says the work was all
 * issued (ran is the plan it runs); it returns false when anything failed, with the error cleared and
 * the slot turned GRAPH_DIRECT: the caller then runs the search directly,
 * which reports a real error again.
 */
bool		graph_begin_capture(DevCtx &ctx);
bool		graph_end_capture(DevCtx &ctx, GraphSlot *slot, const GraphKey &key, const Plan &ran,
							  bool enqueued);

/* the event record of a search's timing: a node of the graph when capturing */
cudaError_t graph_record_event(cudaEvent_t event, cudaStream_t stream, bool capturing);

/* release every graph of the device */
void		graph_cache_clear(GraphCache &cache);

/* hs_gpu_set_graphs */
void		set_graphs_enabled(int on);

#endif							/* HS_GRAPH_CACHE_H */
