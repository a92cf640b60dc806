/*
 * gpu_launches.c
 *	  The GPU worker's searches in flight (gpu_launches.h).
 *
 * A launch is started in the CUDA host on a free lane and answered later.
 * The worker starts a round's batch and only then takes the answer of the
 * launch before it, so the GPU goes from that launch's kernels straight
 * to the next one's: the wake-ups, the gathering of the next batch and
 * the answers' copies, about a tenth of a millisecond a launch at 64
 * clients, happen while a search runs (doc/gpu-kernels.md, "Two launches
 * in flight").  The answers of a launch go out as soon as it is finished,
 * after the next launch has started.  The next round waits until shortly
 * before the launch in flight is due to end (launches_pace), so that its
 * batch is as full as waiting for the answer would make it.  A batch
 * started with nothing else in flight and nothing waiting is finished in
 * the same call to the host, so that a lone client pays one round trip.
 * hybridsearch.gpu_launches_in_flight = 1 finishes every launch at once,
 * and holds its answers until the next launch has started, as the worker
 * did before the lanes.
 *
 * The CUDA module may search only the first queries of a batch
 * (hs_gpu_launch_size); the rest are DEFERRED, for the next round.
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "elapsed.h"
#include "gpu/cuda_host.h"
#include "gpu/gpu_answers.h"
#include "gpu/gpu_launches.h"
#include "gpu/gpu_poll.h"
#include "gpu/gpu_worker.h"
#include "gpu/spin_policy.h"
#include "hybridsearch.h"

/*
 * How long before a launch in flight is due to end the worker starts
 * gathering the next (launches_pace): a round's gathering, the CUDA
 * host's start call, and the query upload and preparation before a
 * launch's timed kernels.  At most so long a wait, whatever the kernels'
 * time says.
 */
#define LAUNCH_LEAD_MS		0.08
#define LAUNCH_PACE_MAX_MS	100.0

StaticAssertDecl(GPU_MAX_LAUNCHES_IN_FLIGHT == HS_GPU_LANES,
				 "hybridsearch.gpu_launches_in_flight goes up to the CUDA module's lanes");

typedef struct Launch
{
	bool		active;
	bool		behind;			/* started while another launch was in flight */
	uint64		order;			/* when it started: finished oldest first */
	int			k;
	int			searched;		/* the queries handed to the host */
	int			served;			/* ... the first of which it searches */
	instr_time	taken;			/* when the worker took the requests */
	instr_time	started;		/* when it handed them to the host */
	instr_time	begun;			/* ... or when the launch it started behind ended */
	float		expected_ms;	/* its kernels' time, by its matrix's last launch */
	GpuSlot		requests[GPU_SLOTS];	/* copies, answered when it finishes */
} Launch;

static Launch launches[HS_GPU_LANES];	/* launch i runs on the host's lane i */
static uint64 launches_started = 0;
static instr_time last_answered;	/* when the last launch's answer came */

bool
launches_in_flight(void)
{
	for (int i = 0; i < HS_GPU_LANES; i++)
		if (launches[i].active)
			return true;
	return false;
}

/* The DEBUG1 line of a launch answered; plan names the kernels that ran. */
static void
log_launch(const Launch *launch, float kernel_ms, double host_ms, const char *plan)
{
	StringInfoData detail;

	if (!message_level_is_interesting(DEBUG1))
		return;
	initStringInfo(&detail);
	if (launch->served < launch->searched)
		appendStringInfo(&detail, "%d queries left for the next launch",
						 launch->searched - launch->served);
	if (launch->behind)
		appendStringInfo(&detail, "%sstarted while another launch ran",
						 detail.len > 0 ? "; " : "");
	ereport(DEBUG1,
			(errmsg_internal("hybridsearch GPU launch: %d queries, k %d, kernels %.3f ms, CUDA host call %.3f ms, plan %s",
							 launch->served, launch->k, kernel_ms, host_ms,
							 plan[0] ? plan : "unknown"),
			 detail.len > 0 ? errdetail_internal("%s", detail.data) : 0));
	pfree(detail.data);
}

/*
 * Take a launch's answers from the host into the slots' buffers, and
 * publish them, or hold them until the next launch has started.
 */
static void
launch_finish(int lane, bool hold)
{
	Launch	   *launch = &launches[lane];
	int			k = launch->k;
	float	   *distances = palloc(sizeof(float) * k * launch->served);
	int64	   *rows = palloc(sizeof(int64) * k * launch->served);
	char		message[GPU_MESSAGE_LEN];
	float		kernel_ms = 0.0f;
	int			status = cuda_host_search_finish(lane, distances, rows, &kernel_ms, message);
	double		host_ms = ms_since(launch->started);

	INSTR_TIME_SET_CURRENT(last_answered);

	launch->active = false;
	for (int i = 0; i < launch->served; i++)
	{
		GpuSlot    *request = &launch->requests[i];
		GpuSearchBuffer *buffer = &gpu_search_buffers[request->number];

		if (status != HS_GPU_OK)
		{
			worker_fail(request, message);
			continue;
		}
		memcpy(buffer->distances, distances + (Size) i * k, sizeof(float) * k);
		memcpy(buffer->rows, rows + (Size) i * k, sizeof(int64) * k);
		request->outcome = GPU_OUTCOME_OK;
		request->kernel_ms = kernel_ms;
		request->host_ms = host_ms;
		request->batch_size = launch->served;
	}
	if (hold)
		answers_hold(launch->requests, launch->served, launch->taken);
	else
		answers_publish_now(launch->requests, launch->served, launch->taken);
	if (status == HS_GPU_OK)
	{
		const GpuSlot *first = &launch->requests[0];
		ResidentMatrix *entry = gpu_resident_find(&first->key, first->epoch);

		if (entry)
			entry->kernel_ms = kernel_ms;
	}
	if (status == HS_GPU_OK)
		log_launch(launch, kernel_ms, host_ms, message);
	pfree(distances);
	pfree(rows);
	if (status == HS_GPU_ECUDA)
		worker_reset_devices(message);
}

/* The lane of the oldest launch in flight other than except (-1: any), or -1. */
static int
oldest_launch(int except)
{
	int			oldest = -1;

	for (int i = 0; i < HS_GPU_LANES; i++)
		if (i != except && launches[i].active &&
			(oldest < 0 || launches[i].order < launches[oldest].order))
			oldest = i;
	return oldest;
}

void
launches_finish_all(void)
{
	int			lane;

	while ((lane = oldest_launch(-1)) >= 0)
		launch_finish(lane, false);
}

/*
 * Before the next round, while a launch is in flight: wait until shortly
 * before it is due to end (its matrix's last launch's kernel time, from
 * when its kernels began), then, unless a request waits to start behind
 * it, take its answers.  The next launch then takes every query that came
 * in meanwhile, and is still on the stream before the GPU runs dry; the
 * answers of the one in flight go out after it has started.  Started at
 * once, the next launch would take only the few queries there by then:
 * on the H200 at 64 clients that spread the clients' queries over more,
 * smaller launches (22 queries each instead of 30), and served fewer
 * queries a second (doc/gpu-kernels.md, "Two launches in flight").
 */
void
launches_pace(void)
{
	int			lane = oldest_launch(-1);
	double		wait_ms;
	instr_time	start;

	if (lane < 0)
		return;
	wait_ms = Min(launches[lane].expected_ms - LAUNCH_LEAD_MS - ms_since(launches[lane].begun),
				  LAUNCH_PACE_MAX_MS);
	if (wait_ms > 0 && spin_cpus() < SPIN_MIN_CPUS)
		pg_usleep((long) (wait_ms * 1000.0));
	else if (wait_ms > 0)
	{
		INSTR_TIME_SET_CURRENT(start);
		while (ms_since(start) < wait_ms)
			;
	}
	if (!gpu_requests_waiting())
		launches_finish_all();
}

/* A free lane, the oldest launch finished first when none is. */
static int
free_lane(void)
{
	for (int i = 0; i < HS_GPU_LANES; i++)
		if (!launches[i].active)
			return i;
	launch_finish(oldest_launch(-1), false);
	return free_lane();
}

/*
 * Start a search of count requests of one matrix, metric and k (the
 * matrix holds every row they need; requests in submission order), then
 * finish the launches started before it.  The requests
 * it searches become LAUNCHED, to be answered when it finishes; the rest
 * DEFERRED; all of them FAILED if it cannot start (false).  With
 * hybridsearch.gpu_launches_in_flight = 1 it is finished at once, and its
 * answers held until the next launch has started while requests wait.
 */
bool
launch_search(ResidentMatrix *entry, GpuSlot **requests, int count, instr_time taken)
{
	GpuSlot    *first = requests[0];
	int			dim = first->key.dim;
	int			lane = free_lane();
	Launch	   *launch = &launches[lane];
	float	   *queries = palloc(sizeof(float) * dim * count);
	bool		finish = !launches_in_flight() && !gpu_requests_waiting() && !answers_held();
	char		message[GPU_MESSAGE_LEN];
	int			served = 0;
	int			status;
	int			before;

	for (int i = 0; i < count; i++)
		memcpy(queries + (Size) i * dim, gpu_search_buffers[requests[i]->number].query,
			   sizeof(float) * dim);
	INSTR_TIME_SET_CURRENT(launch->started);
	status = cuda_host_search_start(lane, entry->parts, entry->nparts, first->metric, queries,
									count, dim, first->k, finish, &served, message);
	pfree(queries);
	for (int i = 0; i < count; i++)
	{
		if (status != HS_GPU_OK)
			worker_fail(requests[i], message);
		else if (i >= served)
			requests[i]->outcome = GPU_OUTCOME_DEFERRED;
		else
		{
			requests[i]->outcome = GPU_OUTCOME_LAUNCHED;
			launch->requests[i] = *requests[i];
		}
	}
	if (status != HS_GPU_OK)
	{
		if (status == HS_GPU_ECUDA)
			worker_reset_devices(message);
		return false;
	}
	launch->behind = launches_in_flight();
	launch->expected_ms = entry->kernel_ms;
	launch->active = true;
	launch->order = ++launches_started;
	launch->k = first->k;
	launch->searched = count;
	launch->served = served;
	launch->taken = taken;
	answers_publish();			/* the last round's others, while this one runs */
	/* its kernels begin when the one before ends: about when that one's answer comes */
	INSTR_TIME_SET_CURRENT(launch->begun);
	while ((before = oldest_launch(lane)) >= 0)
	{
		launch_finish(before, false);
		launch->begun = last_answered;
	}
	if (finish)
		launch_finish(lane, false);
	else if (hybridsearch_gpu_launches_in_flight < 2)
		launch_finish(lane, gpu_requests_waiting());
	return true;
}
