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
 * first.  Candidates are re-scored as they are returned, from the shared
 * copy (fp32) or from their own entries in the pages (half): no backend
 * holds a matrix.  Any
 * failure (no worker, no device, out of memory, a kernel error, the worker
 * gone, a time-out) ends the GPU source with a WARNING — once per backend
 * and reason — and the CPU source finishes the scan with the same rows.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "elapsed.h"
#include "gpu/gpu_poll.h"
#include "gpu/gpu_shared.h"
#include "search/source.h"
#include "hybridsearch.h"
#include "stats/scan_stats.h"

/*
 * K of a search's first request.  Measured on the H200 (1M x 768 fp32, one
 * client): with 128 the kernels took 0.905 ms and re-scoring 0.369 ms of a
 * 1.42 ms query; a LIMIT 10 rarely needs more than 32, and a search that
 * does asks again with 4K.
 */
#define GPU_FIRST_K				32

struct GpuSource
{
	GpuMatrixKey key;
	uint32		epoch;			/* the copy's row numbering */
	float	   *distances;		/* the last search's answer: GPU_MAX_K */
	int64	   *rows;
	int			k;				/* K of the last search; 0 before the first */
	bool		exhausted;		/* every row has been pulled */
};

/* Where a search's query comes from and its answer goes, beside a request. */
typedef struct SearchIo
{
	const float *query;
	int			dim;
	float	   *distances;
	int64	   *rows;
} SearchIo;

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
		slot->abandoned = true;		/* the worker frees it when done */
	else
		slot->state = GPU_SLOT_FREE;
	SpinLockRelease(&gpu_shared->mutex);
}

/*
 * Claim a free slot holding *request, write a search's query into its
 * buffer, and hand it to the worker; -1 when no slot is free or no worker
 * runs.  Not inlined: its loops must stay out of call_worker's setjmp frame.
 */
static pg_noinline int
submit(const GpuSlot *request, const SearchIo *io, uint32 *incarnation)
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
			gpu_shared->slots[i].state = GPU_SLOT_CLAIMED;
			gpu_shared->slots[i].number = i;
			gpu_shared->slots[i].abandoned = false;
			gpu_shared->slots[i].owner_procno = MyProc->pgprocno;
			claimed = i;
			break;
		}
	}
	SpinLockRelease(&gpu_shared->mutex);
	if (claimed < 0)
		return -1;
	/* a claimed slot is this backend's alone: no lock for the copy */
	if (io != NULL)
		memcpy(gpu_search_buffers[claimed].query, io->query, sizeof(float) * io->dim);
	SpinLockAcquire(&gpu_shared->mutex);
	gpu_shared->slots[claimed].state = GPU_SLOT_SUBMITTED;
	gpu_shared->slots[claimed].submitted = ++gpu_shared->submissions;
	SpinLockRelease(&gpu_shared->mutex);
	SetLatch(&ProcGlobal->allProcs[worker_procno].procLatch);
	return claimed;
}

/*
 * Wait until the worker has answered every slot, polling for a while
 * first (gpu_poll.c); false with a message when it is gone or gpu_timeout
 * passes first.  Interrupts are served.
 */
static bool
wait_for_slots(const int *slot_numbers, int count, uint32 incarnation, char *message)
{
	TimestampTz deadline = GetCurrentTimestamp() +
		(TimestampTz) hybridsearch_gpu_timeout_ms * 1000;

	(void) gpu_poll_answered(slot_numbers, count, GPU_ANSWER_POLL_US);
	for (;;)
	{
		int			done = 0;
		bool		worker_gone;

		SpinLockAcquire(&gpu_shared->mutex);
		for (int i = 0; i < count; i++)
			done += gpu_shared->slots[slot_numbers[i]].state == GPU_SLOT_DONE;
		worker_gone = (gpu_shared->incarnation != incarnation ||
					   gpu_shared->worker_procno < 0);
		SpinLockRelease(&gpu_shared->mutex);
		if (done == count)
			return true;
		if (worker_gone)
		{
			strlcpy(message, "the GPU worker exited", GPU_MESSAGE_LEN);
			return false;
		}
		if (GetCurrentTimestamp() >= deadline)
		{
			snprintf(message, GPU_MESSAGE_LEN,
					 "the GPU worker did not answer within hybridsearch.gpu_timeout (%d ms)",
					 hybridsearch_gpu_timeout_ms);
			return false;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* An answered slot's answer, and a search's top k into io. */
static void
read_answer(int slot_number, const SearchIo *io, int k, GpuSlot *answer)
{
	SpinLockAcquire(&gpu_shared->mutex);
	*answer = gpu_shared->slots[slot_number];
	SpinLockRelease(&gpu_shared->mutex);
	if (io != NULL && answer->outcome == GPU_OUTCOME_OK)
	{
		GpuSearchBuffer *buffer = &gpu_search_buffers[slot_number];

		memcpy(io->distances, buffer->distances, sizeof(float) * k);
		memcpy(io->rows, buffer->rows, sizeof(int64) * k);
	}
}

/*
 * Send one request and wait for its answer (copied into *answer, and a
 * search's top K into io).  A cancel while waiting leaves the slot to the
 * worker; the worker's exit or a time-out is a failed answer.
 */
static void
call_worker(const GpuSlot *request, const SearchIo *io, GpuSlot *answer)
{
	uint32		incarnation;
	int			slot_number;

	memset(answer, 0, sizeof(GpuSlot));
	answer->outcome = GPU_OUTCOME_FAILED;
	slot_number = submit(request, io, &incarnation);
	if (slot_number < 0)
	{
		strlcpy(answer->message, "no GPU worker is running, or all its request slots are busy",
				sizeof(answer->message));
		return;
	}

	PG_TRY();
	{
		if (wait_for_slots(&slot_number, 1, incarnation, answer->message))
			read_answer(slot_number, io, request->k, answer);
	}
	PG_FINALLY();
	{
		release_slot(slot_number);
	}
	PG_END_TRY();
}

static void
request_init(GpuSlot *request, const GpuSource *gpu, GpuRequestKind kind, dsm_segment *segment)
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
		call_worker(&request, NULL, &answer);
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
	call_worker(&request, NULL, &answer);
	if (answer.outcome == GPU_OUTCOME_FAILED)
	{
		strlcpy(message, answer.message, GPU_MESSAGE_LEN);
		return false;
	}
	/* NEED_ROWS: the worker's copy changed meanwhile; the search asks again */
	return true;
}

static void
search_request(const Search *search, int k, GpuSlot *request, SearchIo *io)
{
	request_init(request, search->gpu, GPU_REQUEST_SEARCH, NULL);
	request->metric = search->metric;
	request->k = k;
	request->row_count = search->row_count;
	io->query = search->query;
	io->dim = search->dim;
	io->distances = search->gpu->distances;
	io->rows = search->gpu->rows;
}

/*
 * The top k of the query over the worker's copy, appending the rows it
 * lacks first.  False with a message on failure.
 */
static bool
search_worker(Search *search, int k, GpuSlot *answer_out, char *message)
{
	for (int attempt = 0; attempt < 3; attempt++)
	{
		GpuSlot		request;
		GpuSlot		answer;
		SearchIo	io;

		search_request(search, k, &request, &io);
		call_worker(&request, &io, &answer);
		if (answer.outcome == GPU_OUTCOME_OK)
		{
			scan_stats_gpu_search(RelationGetRelid(search->index), answer.batch_size,
								  answer.kernel_ms);
			*answer_out = answer;
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

/* Start the GPU source of a search over a pinned copy. */
bool
gpu_source_begin(Search *search)
{
	GpuSource  *gpu = palloc0(sizeof(GpuSource));

	gpu->key.database = MyDatabaseId;
	gpu->key.node = search->index->rd_node;
	gpu->key.dim = search->dim;
	gpu->key.half = search->half;
	gpu->epoch = search->view->epoch;
	gpu->distances = palloc(sizeof(float) * GPU_MAX_K);
	gpu->rows = palloc(sizeof(int64) * GPU_MAX_K);
	search->gpu = gpu;
	search_pull_untrusted(search);
	return true;
}

static bool
gpu_exhausted(const Search *search)
{
	return search->gpu->exhausted;
}

/*
 * Take the top k the worker answered: the rows not pulled before (nor newer
 * than this scan's copy), each scored exactly when it could be returned
 * next.
 */
static void
take_answer(Search *search, int k)
{
	GpuSource  *gpu = search->gpu;
	float	   *distances = gpu->distances;
	int64	   *rows = gpu->rows;

	gpu->k = k;
	search->used_gpu = true;
	for (int i = 0; i < k && rows[i] >= 0; i++)
		search_take_pass_candidate(search, rows[i], distances[i], true);
	if (rows[k - 1] < 0)
		gpu->exhausted = true;	/* fewer than k rows: every row came back */
	else
	{
		search->pulled_max = distances[k - 1];
		search->margin = search_dot_margin(search, search->pulled_max, true);
	}
}

/* K of a search's first request: twice the rows it wants, when it says. */
static int
first_k(const Search *search)
{
	if (search->rows_wanted <= 0)
		return GPU_FIRST_K;
	return (int) Min(Max(2 * search->rows_wanted, 16), GPU_MAX_K);
}

/* Pull the next candidates: the top K, K growing fourfold. */
static void
gpu_pull(Search *search)
{
	GpuSource  *gpu = search->gpu;
	char		message[GPU_MESSAGE_LEN];
	int			k;
	GpuSlot		answer;
	instr_time	start;
	instr_time	answered;
	double		round_trip_ms;

	if (gpu->k >= GPU_MAX_K)
	{
		search_use_cpu(search);
		return;
	}
	k = gpu->k == 0 ? first_k(search) : Min(gpu->k * 4, GPU_MAX_K);
	INSTR_TIME_SET_CURRENT(start);
	if (!search_worker(search, k, &answer, message))
	{
		report_fallback(search->index, message);
		search_use_cpu(search);
		return;
	}
	round_trip_ms = ms_since(start);
	INSTR_TIME_SET_CURRENT(answered);
	take_answer(search, k);

	/* where a request's time goes (doc/gpu-kernels.md), for log_min_messages = debug1 */
	elog(DEBUG1, "hybridsearch GPU request: k %d, batch %d, round trip %.3f ms, worker %.3f ms, "
		 "CUDA host call %.3f ms, kernels %.3f ms, taking the answer %.3f ms",
		 k, answer.batch_size, round_trip_ms, answer.worker_ms,
		 answer.host_ms, answer.kernel_ms, ms_since(answered));
}

/* Requests of several searches in flight at once. */
typedef struct SearchRound
{
	int			count;
	uint32		incarnation;
	int			slot_numbers[GPU_SLOTS / 2];
	Search	   *searches[GPU_SLOTS / 2];
	SearchIo	io[GPU_SLOTS / 2];
} SearchRound;

/*
 * Submit the first requests of searches[next ..], up to half the slots;
 * returns where the next round starts.
 */
static int
send_round(Search **searches, int count, int next, SearchRound *round)
{
	round->count = 0;
	for (; next < count && round->count < GPU_SLOTS / 2; next++)
	{
		Search	   *search = searches[next];
		int			n = round->count;
		GpuSlot		request;

		if (search->source != &gpu_source || search->gpu->k != 0)
			continue;
		search_request(search, first_k(search), &request, &round->io[n]);
		round->slot_numbers[n] = submit(&request, &round->io[n], &round->incarnation);
		if (round->slot_numbers[n] < 0)
			break;				/* no slot: the rest pull on their own */
		round->searches[round->count++] = search;
	}
	return next;
}

/* Wait for a round's answers and take those that came. */
static pg_noinline void
take_answers(SearchRound *round)
{
	char		message[GPU_MESSAGE_LEN];

	if (!wait_for_slots(round->slot_numbers, round->count, round->incarnation, message))
		return;
	for (int i = 0; i < round->count; i++)
	{
		Search	   *search = round->searches[i];
		GpuSlot		answer;

		read_answer(round->slot_numbers[i], &round->io[i], first_k(search), &answer);
		if (answer.outcome != GPU_OUTCOME_OK)
			continue;
		scan_stats_gpu_search(RelationGetRelid(search->index), answer.batch_size,
							  answer.kernel_ms);
		take_answer(search, first_k(search));
	}
}

static void
release_round(SearchRound *round)
{
	for (int i = 0; i < round->count; i++)
		release_slot(round->slot_numbers[i]);
}

/* A round's answers; its slots are freed whatever happens. */
static pg_noinline void
take_round(SearchRound *round)
{
	PG_TRY();
	{
		take_answers(round);
	}
	PG_CATCH();
	{
		release_round(round);
		PG_RE_THROW();
	}
	PG_END_TRY();
	release_round(round);
}

/*
 * The first pulls of several GPU searches of one index at once
 * (hybridsearch_search_batch): their requests go in together, so that the
 * worker searches them in one launch.  The first pulls alone, which brings
 * the worker's copy up to date; a search whose answer is not ready all the
 * same (a failure, rows appended meanwhile) pulls on its own later.
 */
void
gpu_first_pulls(Search **searches, int count)
{
	int			next = 0;

	while (next < count && searches[next]->source != &gpu_source)
		next++;
	if (next < count)
		gpu_pull(searches[next++]);
	while (next < count)
	{
		SearchRound round;

		next = send_round(searches, count, next, &round);
		if (round.count == 0)
			return;
		take_round(&round);
	}
}

const CandidateSource gpu_source = {SCAN_PATH_GPU, gpu_pull, gpu_exhausted};
