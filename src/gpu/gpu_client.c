/*
 * gpu_client.c
 *	  The backend side of the GPU path: routing, and the GPU candidate
 *	  source of search/source.h, which hands queries to the GPU worker
 *	  (gpu_shared.h) and falls back to the CPU source on any failure.
 *
 * Backends never touch CUDA: they hand requests to the GPU worker through
 * shared memory and wait on their latch.  The worker keeps a copy of each
 * index's rows in GPU memory, keyed by relfilenode and epoch (the row
 * numbering of store.h, which only a compacting VACUUM changes, with the
 * epoch); a search whose view of
 * the shared copy holds more rows than the worker's sends the missing ones
 * first.  Candidates are re-scored from the shared copy (fp32) or from
 * their own entries in the pages (half): no backend holds a matrix.  Any
 * failure (no worker, no device, out of memory, a kernel error, the worker
 * gone, a time-out) ends the GPU source with a WARNING — once per backend
 * and reason — and the CPU source finishes the scan with the same rows.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "gpu/gpu_shared.h"
#include "search/source.h"
#include "hybridsearch.h"
#include "stats/scan_stats.h"

#define GPU_FIRST_K				128
#define GPU_MAX_K				4096	/* the CUDA module's limit */

struct GpuSource
{
	GpuMatrixKey key;
	uint32		epoch;			/* the copy's row numbering */
	dsm_segment *segment;		/* the query and its results */
	int			k;				/* K of the last search; 0 before the first */
	bool		exhausted;		/* every row has been pulled */
};

/* Log a GPU problem once per backend and reason, then count the fallback. */
static void
report_fallback(Relation index, const char *reason)
{
	static char last_reason[GPU_MESSAGE_LEN] = "";

	if (strcmp(last_reason, reason) != 0)
	{
		strlcpy(last_reason, reason, sizeof(last_reason));
		ereport(WARNING,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("hybridsearch: GPU search unavailable, using the CPU: %s", reason)));
	}
	scan_stats_fallback(RelationGetRelid(index));
}

/*
 * Whether a scan of index, holding rows vectors, should start on the GPU.
 * auto takes it from gpu_min_rows rows on when the worker has a device;
 * gpu always tries, and a missing GPU is then a fallback with a WARNING.
 */
static bool
gpu_ready(char *status)
{
	bool		ready;

	SpinLockAcquire(&gpu_shared->mutex);
	ready = gpu_shared->ready && gpu_shared->worker_procno >= 0;
	strlcpy(status, gpu_shared->status, GPU_MESSAGE_LEN);
	SpinLockRelease(&gpu_shared->mutex);
	return ready;
}

/* Whether a scan of rows rows would take the GPU now, for the planner: no WARNING. */
bool
gpu_would_route(int64 rows)
{
	char		status[GPU_MESSAGE_LEN];

	if (hybridsearch_device == DEVICE_CPU || gpu_shared == NULL ||
		(hybridsearch_device == DEVICE_AUTO && rows < hybridsearch_gpu_min_rows))
		return false;
	return gpu_ready(status);
}

bool
gpu_route(Relation index, int64 rows)
{
	bool		ready;
	char		status[GPU_MESSAGE_LEN];

	if (hybridsearch_device == DEVICE_CPU)
		return false;
	if (hybridsearch_device == DEVICE_AUTO && rows < hybridsearch_gpu_min_rows)
		return false;
	if (gpu_shared == NULL)
	{
		if (hybridsearch_device == DEVICE_GPU)
			report_fallback(index, "hybridsearch is not in shared_preload_libraries, so no GPU worker runs");
		return false;
	}
	ready = gpu_ready(status);

	/* an injected fault goes to the worker, which acts it out */
	if (ready || hybridsearch_gpu_fault != GPU_FAULT_NONE)
		return true;
	if (hybridsearch_device == DEVICE_GPU)
		report_fallback(index, status);
	return false;
}

static void
release_slot(int slot_number)
{
	GpuSlot    *slot = &gpu_shared->slots[slot_number];

	SpinLockAcquire(&gpu_shared->mutex);
	if (slot->state == GPU_SLOT_RUNNING)
		slot->abandoned = true;
	else
		slot->state = GPU_SLOT_FREE;
	SpinLockRelease(&gpu_shared->mutex);
}

/*
 * Claim a free slot holding *request; -1 when none is free or no worker.
 * Not inlined: its loop must stay out of call_worker's setjmp frame.
 */
static pg_noinline int
submit(const GpuSlot *request, uint32 *incarnation)
{
	int			worker_procno;
	int			claimed = -1;

	SpinLockAcquire(&gpu_shared->mutex);
	worker_procno = gpu_shared->worker_procno;
	*incarnation = gpu_shared->incarnation;
	for (int i = 0; i < GPU_SLOTS && worker_procno >= 0; i++)
	{
		if (gpu_shared->slots[i].state == GPU_SLOT_FREE)
		{
			gpu_shared->slots[i] = *request;
			gpu_shared->slots[i].state = GPU_SLOT_SUBMITTED;
			gpu_shared->slots[i].abandoned = false;
			gpu_shared->slots[i].owner_procno = MyProc->pgprocno;
			claimed = i;
			break;
		}
	}
	SpinLockRelease(&gpu_shared->mutex);
	if (claimed >= 0)
		SetLatch(&ProcGlobal->allProcs[worker_procno].procLatch);
	return claimed;
}

/*
 * Send one request and wait for its answer (copied into *answer).  A
 * cancel while waiting leaves the slot to the worker; the worker's exit
 * or a time-out is a failed answer.
 */
static void
call_worker(const GpuSlot *request, GpuSlot *answer)
{
	uint32		incarnation;
	int			slot_number;
	TimestampTz deadline = GetCurrentTimestamp() +
		(TimestampTz) hybridsearch_gpu_timeout_ms * 1000;

	memset(answer, 0, sizeof(GpuSlot));
	answer->outcome = GPU_OUTCOME_FAILED;
	slot_number = submit(request, &incarnation);
	if (slot_number < 0)
	{
		strlcpy(answer->message, "no GPU worker is running, or all its request slots are busy",
				sizeof(answer->message));
		return;
	}

	PG_TRY();
	{
		for (;;)
		{
			GpuSlot    *slot = &gpu_shared->slots[slot_number];
			bool		done;
			bool		worker_gone;

			SpinLockAcquire(&gpu_shared->mutex);
			done = (slot->state == GPU_SLOT_DONE);
			if (done)
				*answer = *slot;
			worker_gone = (gpu_shared->incarnation != incarnation ||
						   gpu_shared->worker_procno < 0);
			SpinLockRelease(&gpu_shared->mutex);
			if (done)
				break;
			if (worker_gone)
			{
				strlcpy(answer->message, "the GPU worker exited", sizeof(answer->message));
				break;
			}
			if (GetCurrentTimestamp() >= deadline)
			{
				snprintf(answer->message, sizeof(answer->message),
						 "the GPU worker did not answer within hybridsearch.gpu_timeout (%d ms)",
						 hybridsearch_gpu_timeout_ms);
				break;
			}
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 100, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_FINALLY();
	{
		release_slot(slot_number);
	}
	PG_END_TRY();
}

static void
request_init(GpuSlot *request, GpuSource *gpu, GpuRequestKind kind, dsm_segment *segment)
{
	memset(request, 0, sizeof(GpuSlot));
	request->kind = kind;
	request->fault = (GpuFault) hybridsearch_gpu_fault;
	request->key = gpu->key;
	request->epoch = gpu->epoch;
	request->segment = segment ? dsm_segment_handle(segment) : DSM_HANDLE_INVALID;
}

/* Send rows [first, search->row_count) of a private copy to the worker. */
static bool
send_rows(Search *search, int64 first, char *message)
{
	GpuSource  *gpu = search->gpu;
	CopyView   *view = search->view;
	int			dim = view->dim;
	int64		chunk_rows = Min(Max(1, GPU_APPEND_BYTES / ((int64) sizeof(float) * dim)),
								 search->row_count - first);
	dsm_segment *segment = dsm_create(sizeof(float) * dim * chunk_rows, 0);
	float	   *buffer = dsm_segment_address(segment);
	bool		ok = true;

	while (first < search->row_count)
	{
		int64		count = Min(chunk_rows, search->row_count - first);
		GpuSlot		request;
		GpuSlot		answer;

		view_rows_as_float(view, first, count, buffer);

		request_init(&request, gpu, GPU_REQUEST_APPEND, segment);
		request.first_row = first;
		request.row_count = count;
		call_worker(&request, &answer);
		if (answer.outcome == GPU_OUTCOME_FAILED)
		{
			strlcpy(message, answer.message, GPU_MESSAGE_LEN);
			ok = false;
			break;
		}
		/* NEED_ROWS: the worker's copy was reset meanwhile; resume there */
		first = answer.outcome == GPU_OUTCOME_OK ? first + count : answer.resident_rows;
	}
	dsm_detach(segment);
	return ok;
}

/*
 * Have the worker append rows [first, search->row_count) of the copy: it
 * reads them from the shared copy itself; only private copies (with
 * hybridsearch.shared_cache_size = 0, or a temporary index) are sent, in
 * chunks through a segment of their own (an error releases it with the
 * transaction's resources).
 */
static bool
append_rows(Search *search, int64 first, char *message)
{
	GpuSlot		request;
	GpuSlot		answer;

	if (!search->view->shared || RelationUsesLocalBuffers(search->index))
		return send_rows(search, first, message);
	request_init(&request, search->gpu, GPU_REQUEST_APPEND, NULL);
	request.first_row = first;
	request.row_count = search->row_count - first;
	call_worker(&request, &answer);
	if (answer.outcome == GPU_OUTCOME_FAILED)
	{
		strlcpy(message, answer.message, GPU_MESSAGE_LEN);
		return false;
	}
	/* NEED_ROWS: the worker's copy changed meanwhile; the search asks again */
	return true;
}

/*
 * The top k of the query over the worker's copy, appending the rows it
 * lacks first.  False with a message on failure.
 */
static bool
search_worker(Search *search, int k, char *message)
{
	GpuSource  *gpu = search->gpu;
	float	   *query = dsm_segment_address(gpu->segment);

	for (int attempt = 0; attempt < 3; attempt++)
	{
		GpuSlot		request;
		GpuSlot		answer;

		memcpy(query, search->query, sizeof(float) * search->dim);
		request_init(&request, gpu, GPU_REQUEST_SEARCH, gpu->segment);
		request.metric = search->metric;
		request.k = k;
		request.row_count = search->row_count;
		call_worker(&request, &answer);
		if (answer.outcome == GPU_OUTCOME_OK)
		{
			scan_stats_gpu_search(RelationGetRelid(search->index), answer.batch_size,
								  answer.kernel_ms);
			return true;
		}
		if (answer.outcome == GPU_OUTCOME_FAILED)
		{
			strlcpy(message, answer.message, GPU_MESSAGE_LEN);
			return false;
		}
		if (!append_rows(search, answer.resident_rows, message))
			return false;
	}
	strlcpy(message, "the GPU worker's copy of the index kept changing", GPU_MESSAGE_LEN);
	return false;
}

/*
 * The bound on |GPU distance - operator's distance| below pulled_max,
 * expressed as the margin search.h subtracts.  L2 is bounded in squared
 * form, since the GPU may compute |q|^2 + |x|^2 - 2 q.x, whose error is
 * relative to the squared norms rather than to the distance.
 */
static double
gpu_margin(Search *search, double pulled_max)
{
	double		rounding = search->half ? ldexp(1.0, -11) + ldexp(1.0, -39) * sqrt(search->dim) : 0.0;
	double		underflow = search->half ? ldexp(1.0, -25) : 0.0;
	double		margin = search_margin(search, rounding, underflow);

	/* the kernels take norms with rsqrtf: a few ulp each */
	if (search->metric == METRIC_COSINE)
		margin += 2.0 * ldexp(1.0, -20);

	if (search->metric == METRIC_L2 && isfinite(pulled_max))
	{
		double		n = Max(search->dim, 1);
		double		summation = n * ldexp(1.0, -24) * 1.01;
		double		span = search->query_norm + search->bounds.max_norm;
		double		squared_error = 2.0 * (4.0 * summation + 2.0 * rounding) * span * span;
		double		floor = pulled_max * pulled_max - squared_error;

		margin = Max(margin, pulled_max - (floor > 0.0 ? sqrt(floor) : 0.0));
	}
	return margin;
}

static void
detach_segment(void *arg)
{
	GpuSource  *gpu = (GpuSource *) arg;

	if (gpu->segment)
		dsm_detach(gpu->segment);
	gpu->segment = NULL;
}

/* Rows the GPU cannot be trusted with are scored exactly up front. */
static void
pull_untrusted(Search *search)
{
	for (int64 row = 0; search->bounds.untrusted > 0 && row < search->row_count; row++)
	{
		uint8		flags = view_flags(search->view, row);

		if (!(flags & ROW_UNTRUSTED))
			continue;
		search->pulled_rows[row / 8] |= (1 << (row % 8));
		if (!(flags & ROW_DEAD))
			search_add_candidate(search, row, search_exact_distance(search, row));
	}
}

/* Start the GPU source of a search over a pinned copy. */
bool
gpu_source_begin(Search *search)
{
	GpuSource  *gpu = palloc0(sizeof(GpuSource));
	MemoryContextCallback *callback;

	gpu->key.database = MyDatabaseId;
	gpu->key.node = search->index->rd_node;
	gpu->key.dim = search->dim;
	gpu->key.half = search->half;
	gpu->epoch = search->view->epoch;
	gpu->segment = dsm_create(GPU_SEARCH_SEGMENT_SIZE(search->dim, GPU_MAX_K), 0);

	/*
	 * The scan's memory owns the mapping, not the resource owner: a reset
	 * callback detaches it when the scan ends, on error too.
	 */
	dsm_pin_mapping(gpu->segment);
	callback = palloc(sizeof(MemoryContextCallback));
	callback->func = detach_segment;
	callback->arg = gpu;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, callback);
	search->gpu = gpu;
	search->pulled_rows = palloc0((search->row_count + 7) / 8);
	pull_untrusted(search);
	return true;
}

static bool
gpu_exhausted(const Search *search)
{
	return search->gpu->exhausted;
}

/* Hand the rest of the scan to the CPU source. */
static void
end_gpu_source(Search *search)
{
	detach_segment(search->gpu);
	search_use_cpu(search);
}

/*
 * Pull the next candidates: the top K with K growing fourfold, skipping
 * rows pulled before and rows newer than this scan's copy.
 */
static void
gpu_pull(Search *search)
{
	GpuSource  *gpu = search->gpu;
	int			dim = search->dim;
	char		message[GPU_MESSAGE_LEN];
	char	   *base = dsm_segment_address(gpu->segment);
	int			k;
	float	   *distances;
	int64	   *rows;

	if (gpu->k >= GPU_MAX_K)
	{
		end_gpu_source(search);
		return;
	}
	k = gpu->k == 0 ? GPU_FIRST_K : Min(gpu->k * 4, GPU_MAX_K);
	if (!search_worker(search, k, message))
	{
		report_fallback(search->index, message);
		end_gpu_source(search);
		return;
	}
	gpu->k = k;
	search->used_gpu = true;
	distances = GPU_SEARCH_DISTANCES(base, dim);
	rows = GPU_SEARCH_ROWS(base, dim, k);
	for (int i = 0; i < k && rows[i] >= 0; i++)
	{
		int64		row = rows[i];

		if (row >= search->row_count || (search->pulled_rows[row / 8] & (1 << (row % 8))))
			continue;
		search->pulled_rows[row / 8] |= (1 << (row % 8));
		if (!row_is_dead(search, row))
			search_add_candidate(search, row, search_exact_distance(search, row));
	}
	if (rows[k - 1] < 0)
		gpu->exhausted = true;	/* fewer than k rows: every row came back */
	else
	{
		search->pulled_max = distances[k - 1];
		search->margin = gpu_margin(search, search->pulled_max);
	}
}

const CandidateSource gpu_source = {SCAN_PATH_GPU, gpu_pull, gpu_exhausted};
