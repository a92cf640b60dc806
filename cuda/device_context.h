/*
 * device_context.h
 *	  One context per CUDA device: its stream, events, cuBLAS handle,
 *	  scratch buffers, autotune cache and captured searches, and the mutex
 *	  that serialises the calls on it; and the flights, what a search on
 *	  the device holds from its start to its answer.
 *
 * Calls on different devices run at once (hs_gpu_search_parts); each C API
 * call locks the context of its device for its whole length.  A search
 * started on a lane (hs_gpu_search_start) is on the stream between two
 * calls: the device scratch it uses is safe, as everything on the stream
 * runs in order (and growing a buffer frees it, which waits for the
 * device), but its queries' and its answer's pinned memory, and the events
 * that time it, are its flight's own.
 */
#ifndef HS_DEVICE_CONTEXT_H
#define HS_DEVICE_CONTEXT_H

#include <atomic>
#include <map>
#include <pthread.h>
#include <stddef.h>
#include <cuda_runtime.h>
#include <cublas_v2.h>

#include "hs_gpu.h"
#include "graph_cache.h"
#include "impl/fused.cuh"
#include "impl/tensor.cuh"
#include "plan.h"
#include "utils/buffers.h"

/*
 * A search from its start to its answer, on one device: the pinned memory
 * its queries are uploaded from and its answer is written into by the
 * final kernel (a captured graph holds both addresses: graph_cache.h), the
 * events around its kernels, and what it ran.
 */
struct Flight
{
	int			device = -1;	/* whose events these are; -1: none made */
	ScratchBuf	host_queries = {}, host_out_dist = {}, host_out_rows = {};
	cudaEvent_t ev_start = NULL, ev_stop = NULL;
	int			nq = 0, k = 0;
	bool		empty = true;	/* answered at its start: no queries or no rows */
	bool		graphed = false;	/* ... else whether a graph ran it */
	Plan		ran = {};
};

struct DevCtx
{
	pthread_mutex_t mutex;
	int			open;
	int			device;
	cudaStream_t stream;
	cudaStream_t select_stream;	/* the GEMM path's selection, beside the next chunk's product */
	cublasHandle_t blas;
	cudaDeviceProp prop;
	cudaEvent_t ev_start, ev_stop;	/* the floors' timing (impl/bench.cu) */
	cudaEvent_t stage_done[2];	/* a host staging buffer may be refilled */
	cudaEvent_t dots_ready[2];	/* a chunk's dot products are written */
	cudaEvent_t dots_free[2];	/* ... and selected: the buffer may be rewritten */

	/* device scratch */
	ScratchBuf	queries;		/* nq_pad x ld fp32, zero padded */
	ScratchBuf	queries16;		/* the same in fp16 (GEMM path of fp16 matrices) */
	ScratchBuf	qnorms32, qnorms16; /* squared query norms, fp32 and fp16-rounded */
	ScratchBuf	cand, cand_next;	/* candidate lists; the merge passes swap them */
	ScratchBuf	dots[2];		/* the GEMM chunks' dot products, alternately */
	ScratchBuf	stage[2];		/* appended fp32 rows */
	ScratchBuf	sink;			/* the read probe's output */
	ScratchBuf	bounds;			/* per query: the shared bound of the k-th key */

	ScratchBuf	host_stage[2];	/* pinned: appended rows on their way */

	Flight		sync_flight;	/* hs_gpu_search's, start to answer under the mutex */
	Flight	   *flight;			/* the search being enqueued */

	std::map<TuneKey, TuneEntry> *tune_cache;
	std::map<const void *, size_t> *smem_limits;	/* kernel -> dynamic smem limit */
	GraphCache *graphs;			/* searches captured as graphs */
	const FusedVariant *variants[2];	/* fused instantiations, [half] */
	int			nvariants[2];
	const TensorVariant *tensor_variants[2];	/* tensor instantiations, [half] */
	int			ntensor_variants[2];
	char		last_variant[96];
};

extern DevCtx device_contexts[HS_GPU_MAX_DEVICES];

/* the device of the last search, for hs_gpu_last_variant() */
extern std::atomic<int> last_device;

/* initialise the contexts' mutexes (once; every entry point calls it) */
void		init_device_contexts(void);

/* *out = the device's context, its mutex held, when that device is open */
int			lock_device(int device, DevCtx **out, char *errbuf, size_t errlen);

/* *out = m's device context, its mutex held */
int			lock_matrix(const hs_gpu_matrix *m, DevCtx **out, char *errbuf, size_t errlen);

/* with the mutex held: open (idempotent), close (releases everything) */
int			open_locked(DevCtx &ctx, int device, char *errbuf, size_t errlen);
void		close_locked(DevCtx &ctx);

/* flight's events made on ctx's device (remade after another device's, the flight
 * starting over) */
int			flight_ready(DevCtx &ctx, Flight &flight, char *errbuf, size_t errlen);

/* release what flight holds (its search is answered): a new Flight */
void		flight_release(Flight &flight);

/* work() with m's device locked: its result, or the locking error */
template <typename Work>
static inline int
with_matrix_locked(hs_gpu_matrix *m, char *errbuf, size_t errlen, Work work)
{
	DevCtx	   *ctx = NULL;
	int			rc;

	if ((rc = lock_matrix(m, &ctx, errbuf, errlen)) != 0)
		return rc;
	rc = work();
	pthread_mutex_unlock(&ctx->mutex);
	return rc;
}

/* raise fn's dynamic shared memory limit to what the device allows beside
 * its static shared memory; *limit receives that limit */
int			set_max_smem(DevCtx &ctx, const void *fn, size_t *limit, char *errbuf, size_t errlen);

#endif							/* HS_DEVICE_CONTEXT_H */
