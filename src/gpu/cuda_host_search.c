/*
 * cuda_host_search.c
 *	  Searches in the CUDA host on its lanes (cuda_host.h): a start call
 *	  that returns once the search runs, and a finish call that gives its
 *	  answer, so that the worker starts the next batch before it takes the
 *	  last one's.
 *
 * Each lane has its own staging area in the channel
 * (cuda_host_channel.h).  Any other call first waits for the lanes'
 * searches (host_lanes_finish) and keeps their answers for the finish; a
 * host that dies takes the answers not yet come with it
 * (host_lanes_lost).
 */
#include "postgres.h"

#include "gpu/cuda_host.h"
#include "gpu/cuda_host_channel.h"
#include "gpu/cuda_host_internal.h"
#include "hybridsearch.h"

/* each lane's search, from its start until the worker takes its answer */
typedef struct HostLane
{
	bool		started;
	bool		answered;		/* its finish came back: rc, kernel_ms, message */
	int			nqueries;		/* the call's: they place the results in staging */
	int			dim;
	int			k;
	int			served;
	int			rc;
	float		kernel_ms;
	char		message[GPU_MESSAGE_LEN];	/* why it failed, or the kernels that ran */
} HostLane;

static HostLane lanes[HS_GPU_LANES];

/* The lanes' searches not answered yet are lost with the host: why. */
void
host_lanes_lost(const char *why)
{
	for (int i = 0; i < HS_GPU_LANES; i++)
	{
		if (!lanes[i].started || lanes[i].answered)
			continue;
		lanes[i].answered = true;
		lanes[i].rc = CUDA_HOST_DIED;
		strlcpy(lanes[i].message, why, GPU_MESSAGE_LEN);
	}
}

/* Take the answer of the search on lane from the host, into lanes[lane]. */
static void
finish_lane(int lane)
{
	HostLane   *l = &lanes[lane];
	HostCall   *call = host_begin_call(HOST_OP_SEARCH_FINISH);

	call->lane = lane;
	call->nqueries = l->nqueries;
	call->dim = l->dim;
	call->k = l->k;
	l->rc = host_call(hybridsearch_gpu_timeout_ms, l->message);
	if (l->rc == HS_GPU_OK)
	{
		l->kernel_ms = host_channel()->reply.kernel_ms;
		strlcpy(l->message, host_channel()->reply.message, GPU_MESSAGE_LEN);
	}
	l->answered = true;
}

/* Before a call other than a search's: the lanes' searches answered, their answers kept. */
void
host_lanes_finish(void)
{
	for (int i = 0; i < HS_GPU_LANES; i++)
		if (lanes[i].started && !lanes[i].answered)
			finish_lane(i);
}

/*
 * Start hs_gpu_search_start in the host on lane, which must be free: the
 * top k of each query over the parts.  It returns once the search is on
 * the GPU, and *served is how many of the queries it searches (the rest
 * wait for a later launch).  With finish, the host also waits for it
 * (one round trip, for a search with nothing else in flight).
 */
int
cuda_host_search_start(int lane, const HostMatrix *parts, int nparts, int metric,
					   const float *queries, int nqueries, int dim, int k, bool finish,
					   int *served, char *message)
{
	HostLane   *l = &lanes[lane];
	HostCall   *call;
	int			rc;

	if (HOST_SEARCH_BYTES(nqueries, dim, k) > HOST_STAGING_BYTES || nparts > HS_GPU_MAX_PARTS)
		elog(ERROR, "a GPU search of %d queries does not fit the CUDA host's staging", nqueries);
	if (l->started)
		elog(ERROR, "CUDA host lane %d has a search started", lane);
	call = host_begin_call(HOST_OP_SEARCH_START);
	call->lane = lane;
	call->finish = finish;
	call->nparts = nparts;
	memcpy(call->matrices, parts, sizeof(HostMatrix) * nparts);
	call->metric = metric;
	call->nqueries = nqueries;
	call->dim = dim;
	call->k = k;
	memcpy(host_channel()->lane_staging[lane], queries, sizeof(float) * nqueries * dim);
	if ((rc = host_call(hybridsearch_gpu_timeout_ms, message)) != HS_GPU_OK)
		return rc;
	*served = host_channel()->reply.served;
	l->started = true;
	l->answered = finish;
	l->nqueries = nqueries;
	l->dim = dim;
	l->k = k;
	l->served = *served;
	l->rc = HS_GPU_OK;
	l->kernel_ms = host_channel()->reply.kernel_ms;
	strlcpy(l->message, host_channel()->reply.message, GPU_MESSAGE_LEN);
	return HS_GPU_OK;
}

/*
 * The answer of the search on lane, waited for if need be: the top k of
 * the queries it served.  The lane is free after it.
 */
int
cuda_host_search_finish(int lane, float *distances, int64 *rows, float *kernel_ms, char *message)
{
	HostLane   *l = &lanes[lane];
	const double *staging = host_channel()->lane_staging[lane];

	if (!l->started)
		elog(ERROR, "CUDA host lane %d has no search started", lane);
	if (!l->answered)
		finish_lane(lane);
	l->started = l->answered = false;
	strlcpy(message, l->message, GPU_MESSAGE_LEN);
	if (l->rc != HS_GPU_OK)
		return l->rc;
	memcpy(distances, HOST_SEARCH_DISTANCES(staging, l->nqueries, l->dim),
		   sizeof(float) * l->served * l->k);
	memcpy(rows, HOST_SEARCH_ROWS(staging, l->nqueries, l->dim, l->k),
		   sizeof(int64) * l->served * l->k);
	*kernel_ms = l->kernel_ms;
	return HS_GPU_OK;
}
