/*
 * gpu_worker.c
 *	  The GPU worker: the one process that loads the CUDA module, holds the
 *	  CUDA context and keeps indexes' rows resident in GPU memory.
 *
 * Started by the preload (shared_preload_libraries = 'hybridsearch').  It
 * connects to no database and runs no SQL: backends send it rows and
 * queries through request slots (gpu_shared.h).  Each round it takes every
 * submitted request, applies appends, groups the searches of the same
 * matrix, metric and k into one launch, and answers.  Matrices are evicted
 * least recently used first beyond hybridsearch.gpu_memory_limit.  Without
 * the CUDA module or a device it still runs and answers every request with
 * the reason, so backends fall back to the CPU with that reason.
 */
#include "postgres.h"

#include <dlfcn.h>

#include "access/htup_details.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "gpu_shared.h"
#include "hs_gpu.h"
#include "hybridsearch.h"

PGDLLEXPORT void hybridsearch_gpu_worker_main(Datum arg);

PG_FUNCTION_INFO_V1(hybridsearch_gpu_status);

GpuShared  *gpu_shared = NULL;

/* The CUDA module's entry points, found with dlsym. */
typedef struct CudaModule
{
	void	   *handle;
	int			(*open) (int device, char *errbuf, size_t errlen);
	void		(*close) (void);
	hs_gpu_matrix *(*matrix_create) (int dim, int half, char *errbuf, size_t errlen);
	int			(*matrix_append) (hs_gpu_matrix *m, const float *rows, int64_t nrows,
								  char *errbuf, size_t errlen);
	int64_t		(*matrix_rows) (const hs_gpu_matrix *m);
	size_t		(*matrix_bytes) (const hs_gpu_matrix *m);
	void		(*matrix_free) (hs_gpu_matrix *m);
	int			(*search) (hs_gpu_matrix *m, int metric, const float *queries, int nqueries,
						   int k, float *out_distances, int64_t *out_rows, float *kernel_ms,
						   char *errbuf, size_t errlen);
} CudaModule;

typedef struct ResidentMatrix
{
	GpuMatrixKey key;			/* hash key */
	uint32		epoch;
	hs_gpu_matrix *matrix;
	uint64		last_used;
} ResidentMatrix;

static CudaModule cuda;
static bool device_open = false;
static HTAB *matrices = NULL;
static uint64 use_clock = 0;

void
gpu_shared_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(GpuShared)));
}

void
gpu_shared_init(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	gpu_shared = ShmemInitStruct("hybridsearch_gpu", sizeof(GpuShared), &found);
	if (!found)
	{
		memset(gpu_shared, 0, sizeof(GpuShared));
		SpinLockInit(&gpu_shared->mutex);
		gpu_shared->worker_procno = -1;
		strlcpy(gpu_shared->status, "the GPU worker has not started", GPU_MESSAGE_LEN);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
gpu_worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_PostmasterStart;
	worker.bgw_restart_time = 1;
	strlcpy(worker.bgw_library_name, "hybridsearch", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "hybridsearch_gpu_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "hybridsearch GPU worker", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "hybridsearch GPU worker", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/* Rows and device bytes resident for an index, for hybridsearch_stats. */
void
gpu_resident_usage(Oid database, RelFileNode node, int64 *rows, int64 *bytes)
{
	*rows = 0;
	*bytes = 0;
	if (gpu_shared == NULL)
		return;
	SpinLockAcquire(&gpu_shared->mutex);
	for (int i = 0; i < gpu_shared->resident_count; i++)
	{
		GpuResident *resident = &gpu_shared->resident[i];

		if (resident->key.database == database && RelFileNodeEquals(resident->key.node, node))
		{
			*rows += resident->rows;
			*bytes += resident->bytes;
		}
	}
	SpinLockRelease(&gpu_shared->mutex);
}

/*
 * hybridsearch_gpu_status(): whether the worker runs (its pid), whether
 * its device is ready, why not, and what it holds.  Without the preload
 * every column says so.
 */
Datum
hybridsearch_gpu_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {0};
	int			procno = -1;
	bool		ready = false;
	char		status[GPU_MESSAGE_LEN] = "hybridsearch is not in shared_preload_libraries";
	int64		matrices_resident = 0;
	int64		bytes = 0;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (gpu_shared)
	{
		SpinLockAcquire(&gpu_shared->mutex);
		procno = gpu_shared->worker_procno;
		ready = gpu_shared->ready;
		strlcpy(status, gpu_shared->status, sizeof(status));
		matrices_resident = gpu_shared->resident_count;
		for (int i = 0; i < gpu_shared->resident_count; i++)
			bytes += gpu_shared->resident[i].bytes;
		SpinLockRelease(&gpu_shared->mutex);
	}
	values[0] = Int32GetDatum(procno >= 0 ? ProcGlobal->allProcs[procno].pid : 0);
	nulls[0] = (procno < 0);
	values[1] = BoolGetDatum(ready);
	values[2] = CStringGetTextDatum(status);
	values[3] = Int64GetDatum(matrices_resident);
	values[4] = Int64GetDatum(bytes);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

static void
set_status(bool ready, const char *status)
{
	SpinLockAcquire(&gpu_shared->mutex);
	gpu_shared->ready = ready;
	strlcpy(gpu_shared->status, status, GPU_MESSAGE_LEN);
	SpinLockRelease(&gpu_shared->mutex);
	ereport(LOG, (errmsg("hybridsearch GPU worker: %s", status)));
}

static bool
load_module(char *message)
{
	char		path[MAXPGPATH];

	snprintf(path, sizeof(path), "%s/libhybridsearch_cuda.so", pkglib_path);
	cuda.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (cuda.handle == NULL)
	{
		snprintf(message, GPU_MESSAGE_LEN, "the CUDA module could not be loaded: %s", dlerror());
		return false;
	}
	cuda.open = dlsym(cuda.handle, "hs_gpu_open");
	cuda.close = dlsym(cuda.handle, "hs_gpu_close");
	cuda.matrix_create = dlsym(cuda.handle, "hs_gpu_matrix_create");
	cuda.matrix_append = dlsym(cuda.handle, "hs_gpu_matrix_append");
	cuda.matrix_rows = dlsym(cuda.handle, "hs_gpu_matrix_rows");
	cuda.matrix_bytes = dlsym(cuda.handle, "hs_gpu_matrix_bytes");
	cuda.matrix_free = dlsym(cuda.handle, "hs_gpu_matrix_free");
	cuda.search = dlsym(cuda.handle, "hs_gpu_search");
	if (!cuda.open || !cuda.close || !cuda.matrix_create || !cuda.matrix_append ||
		!cuda.matrix_rows || !cuda.matrix_bytes || !cuda.matrix_free || !cuda.search)
	{
		snprintf(message, GPU_MESSAGE_LEN, "the CUDA module %s lacks an entry point", path);
		dlclose(cuda.handle);
		cuda.handle = NULL;
		return false;
	}
	return true;
}

static void
open_device(void)
{
	char		message[GPU_MESSAGE_LEN];

	if (cuda.handle == NULL && !load_module(message))
	{
		set_status(false, message);
		return;
	}
	if (cuda.open(hybridsearch_gpu_device, message, sizeof(message)) != HS_GPU_OK)
	{
		set_status(false, message);
		return;
	}
	device_open = true;
	snprintf(message, sizeof(message), "GPU %d ready", hybridsearch_gpu_device);
	set_status(true, message);
}

/* Publish the resident matrices for hybridsearch_stats. */
static void
publish_resident(void)
{
	HASH_SEQ_STATUS status;
	ResidentMatrix *entry;
	int			count = 0;

	SpinLockAcquire(&gpu_shared->mutex);
	hash_seq_init(&status, matrices);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (count < GPU_RESIDENT_MAX)
		{
			gpu_shared->resident[count].key = entry->key;
			gpu_shared->resident[count].rows = cuda.matrix_rows(entry->matrix);
			gpu_shared->resident[count].bytes = cuda.matrix_bytes(entry->matrix);
			count++;
		}
	}
	gpu_shared->resident_count = count;
	SpinLockRelease(&gpu_shared->mutex);
}

static void
drop_matrix(ResidentMatrix *entry)
{
	GpuMatrixKey key = entry->key;

	cuda.matrix_free(entry->matrix);
	hash_search(matrices, &key, HASH_REMOVE, NULL);
}

static void
drop_all_matrices(void)
{
	HASH_SEQ_STATUS status;
	ResidentMatrix *entry;

	hash_seq_init(&status, matrices);
	while ((entry = hash_seq_search(&status)) != NULL)
		drop_matrix(entry);
}

/* After a sticky CUDA error: start over with a fresh context. */
static void
reset_device(const char *reason)
{
	drop_all_matrices();
	cuda.close();
	device_open = false;
	ereport(LOG, (errmsg("hybridsearch GPU worker: resetting the device after: %s", reason)));
	open_device();
}

static Size
resident_bytes(void)
{
	HASH_SEQ_STATUS status;
	ResidentMatrix *entry;
	Size		total = 0;

	hash_seq_init(&status, matrices);
	while ((entry = hash_seq_search(&status)) != NULL)
		total += cuda.matrix_bytes(entry->matrix);
	return total;
}

/* Evict least recently used matrices other than keep until needed fits. */
static bool
make_room(ResidentMatrix *keep, Size needed)
{
	Size		limit = (Size) hybridsearch_gpu_memory_limit_mb * 1024 * 1024;

	if (hybridsearch_gpu_memory_limit_mb <= 0)
		return true;
	while (resident_bytes() + needed > limit)
	{
		HASH_SEQ_STATUS status;
		ResidentMatrix *entry;
		ResidentMatrix *oldest = NULL;

		hash_seq_init(&status, matrices);
		while ((entry = hash_seq_search(&status)) != NULL)
			if (entry != keep && (oldest == NULL || entry->last_used < oldest->last_used))
				oldest = entry;
		if (oldest == NULL)
			return false;
		drop_matrix(oldest);
	}
	return true;
}

/* Out of device memory: drop every other matrix; false if there was none. */
static bool
drop_other_matrices(ResidentMatrix *keep)
{
	HASH_SEQ_STATUS status;
	ResidentMatrix *entry;
	bool		dropped = false;

	hash_seq_init(&status, matrices);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry != keep)
		{
			drop_matrix(entry);
			dropped = true;
		}
	}
	return dropped;
}

/* The faults a test asked for; true when one was acted out. */
static bool
act_out_fault(GpuSlot *request)
{
	const char *message = NULL;

	switch (request->fault)
	{
		case GPU_FAULT_NONE:
			return false;
		case GPU_FAULT_NO_DEVICE:
			message = "no CUDA device (injected fault)";
			break;
		case GPU_FAULT_OUT_OF_MEMORY:
			message = "out of GPU memory (injected fault)";
			break;
		case GPU_FAULT_KERNEL_ERROR:
			message = "a GPU kernel failed (injected fault)";
			break;
		case GPU_FAULT_DRIVER_RESET:
			if (device_open)
				reset_device("a driver reset (injected fault)");
			message = "the GPU driver was reset (injected fault)";
			break;
		case GPU_FAULT_WORKER_EXIT:
			ereport(LOG, (errmsg("hybridsearch GPU worker: exiting (injected fault)")));
			proc_exit(1);
	}
	request->outcome = GPU_OUTCOME_FAILED;
	strlcpy(request->message, message, GPU_MESSAGE_LEN);
	return true;
}

static void
fail(GpuSlot *request, const char *message)
{
	request->outcome = GPU_OUTCOME_FAILED;
	strlcpy(request->message, message, GPU_MESSAGE_LEN);
}

/* The matrix of a request's key at its epoch, or NULL. */
static ResidentMatrix *
current_matrix(GpuSlot *request)
{
	ResidentMatrix *entry = hash_search(matrices, &request->key, HASH_FIND, NULL);

	if (entry && entry->epoch != request->epoch)
	{
		drop_matrix(entry);
		entry = NULL;
	}
	if (entry)
		entry->last_used = ++use_clock;
	return entry;
}

static void
handle_append(GpuSlot *request)
{
	ResidentMatrix *entry = current_matrix(request);
	char		message[GPU_MESSAGE_LEN];
	dsm_segment *segment;
	Size		bytes = sizeof(float) * request->key.dim * request->row_count /
		(request->key.half ? 2 : 1);
	int			status;

	if (entry == NULL)
	{
		hs_gpu_matrix *matrix = cuda.matrix_create(request->key.dim, request->key.half,
												   message, sizeof(message));
		bool		found;

		if (matrix == NULL)
		{
			fail(request, message);
			return;
		}
		entry = hash_search(matrices, &request->key, HASH_ENTER, &found);
		entry->epoch = request->epoch;
		entry->matrix = matrix;
		entry->last_used = ++use_clock;
	}
	request->resident_rows = cuda.matrix_rows(entry->matrix);
	if (request->first_row != request->resident_rows)
	{
		request->outcome = GPU_OUTCOME_NEED_ROWS;
		return;
	}
	if (!make_room(entry, bytes))
	{
		fail(request, "the index needs more GPU memory than hybridsearch.gpu_memory_limit allows");
		return;
	}
	segment = dsm_attach(request->segment);
	if (segment == NULL)
	{
		fail(request, "the requesting backend has gone");
		return;
	}
	status = cuda.matrix_append(entry->matrix, dsm_segment_address(segment),
								request->row_count, message, sizeof(message));
	if (status == HS_GPU_ENOMEM && drop_other_matrices(entry))
		status = cuda.matrix_append(entry->matrix, dsm_segment_address(segment),
									request->row_count, message, sizeof(message));
	dsm_detach(segment);
	if (status != HS_GPU_OK)
	{
		fail(request, message);
		if (status == HS_GPU_ECUDA)
			reset_device(message);
		return;
	}
	request->resident_rows = cuda.matrix_rows(entry->matrix);
	request->outcome = GPU_OUTCOME_OK;
}

/* Searches of one matrix, metric and k, in one launch. */
static void
handle_search_batch(GpuSlot **batch, int count)
{
	GpuSlot    *first = batch[0];
	ResidentMatrix *entry = current_matrix(first);
	int			dim = first->key.dim;
	int			k = first->k;
	float	   *queries = palloc(sizeof(float) * dim * count);
	float	   *distances = palloc(sizeof(float) * k * count);
	int64	   *rows = palloc(sizeof(int64) * k * count);
	dsm_segment **segments = palloc0(sizeof(dsm_segment *) * count);
	GpuSlot   **ready = palloc(sizeof(GpuSlot *) * count);
	int			searched = 0;
	char		message[GPU_MESSAGE_LEN];
	float		kernel_ms = 0.0f;
	int			status;

	for (int i = 0; i < count; i++)
	{
		GpuSlot    *request = batch[i];

		request->resident_rows = entry ? cuda.matrix_rows(entry->matrix) : 0;
		if (entry == NULL || request->resident_rows < request->row_count)
		{
			request->outcome = GPU_OUTCOME_NEED_ROWS;
			continue;
		}
		segments[searched] = dsm_attach(request->segment);
		if (segments[searched] == NULL)
		{
			fail(request, "the requesting backend has gone");
			continue;
		}
		memcpy(queries + (Size) searched * dim, dsm_segment_address(segments[searched]),
			   sizeof(float) * dim);
		ready[searched++] = request;
	}
	if (searched > 0)
	{
		status = cuda.search(entry->matrix, first->metric, queries, searched, k,
							 distances, (int64_t *) rows, &kernel_ms, message, sizeof(message));
		for (int i = 0; i < searched; i++)
		{
			char	   *base = dsm_segment_address(segments[i]);

			if (status == HS_GPU_OK)
			{
				memcpy(GPU_SEARCH_DISTANCES(base, dim), distances + (Size) i * k, sizeof(float) * k);
				memcpy(GPU_SEARCH_ROWS(base, dim, k), rows + (Size) i * k, sizeof(int64) * k);
				ready[i]->outcome = GPU_OUTCOME_OK;
				ready[i]->kernel_ms = kernel_ms;
				ready[i]->batch_size = searched;
			}
			else
				fail(ready[i], message);
			dsm_detach(segments[i]);
		}
		if (status == HS_GPU_ECUDA)
			reset_device(message);
	}
	pfree(queries);
	pfree(distances);
	pfree(rows);
	pfree(segments);
	pfree(ready);
}

static bool
same_batch(const GpuSlot *a, const GpuSlot *b)
{
	return memcmp(&a->key, &b->key, sizeof(GpuMatrixKey)) == 0 &&
		a->epoch == b->epoch && a->metric == b->metric && a->k == b->k;
}

/* Answer every request that has come in. */
static void
serve_requests(void)
{
	GpuSlot		requests[GPU_SLOTS];
	int			numbers[GPU_SLOTS];
	GpuSlot    *batch[GPU_SLOTS];
	bool		handled[GPU_SLOTS] = {0};
	int			count = 0;
	int			owners[GPU_SLOTS];
	int			wake = 0;

	SpinLockAcquire(&gpu_shared->mutex);
	for (int i = 0; i < GPU_SLOTS; i++)
	{
		if (gpu_shared->slots[i].state == GPU_SLOT_SUBMITTED)
		{
			gpu_shared->slots[i].state = GPU_SLOT_RUNNING;
			requests[count] = gpu_shared->slots[i];
			numbers[count++] = i;
		}
	}
	SpinLockRelease(&gpu_shared->mutex);
	if (count == 0)
		return;

	for (int i = 0; i < count; i++)
	{
		if (act_out_fault(&requests[i]))
			handled[i] = true;
		else if (!device_open)
		{
			SpinLockAcquire(&gpu_shared->mutex);
			fail(&requests[i], gpu_shared->status);
			SpinLockRelease(&gpu_shared->mutex);
			handled[i] = true;
		}
		else if (requests[i].kind == GPU_REQUEST_APPEND)
		{
			handle_append(&requests[i]);
			handled[i] = true;
		}
	}
	for (int i = 0; i < count; i++)
	{
		int			size = 0;

		if (handled[i])
			continue;
		for (int j = i; j < count; j++)
		{
			if (!handled[j] && same_batch(&requests[i], &requests[j]))
			{
				batch[size++] = &requests[j];
				handled[j] = true;
			}
		}
		handle_search_batch(batch, size);
	}
	if (matrices)
		publish_resident();

	SpinLockAcquire(&gpu_shared->mutex);
	for (int i = 0; i < count; i++)
	{
		GpuSlot    *slot = &gpu_shared->slots[numbers[i]];

		slot->outcome = requests[i].outcome;
		slot->resident_rows = requests[i].resident_rows;
		slot->kernel_ms = requests[i].kernel_ms;
		slot->batch_size = requests[i].batch_size;
		strlcpy(slot->message, requests[i].message, GPU_MESSAGE_LEN);
		if (slot->abandoned)
			slot->state = GPU_SLOT_FREE;
		else
		{
			slot->state = GPU_SLOT_DONE;
			owners[wake++] = slot->owner_procno;
		}
	}
	SpinLockRelease(&gpu_shared->mutex);
	for (int i = 0; i < wake; i++)
		SetLatch(&ProcGlobal->allProcs[owners[i]].procLatch);
}

/*
 * Announce this worker; requests a previous incarnation left running are
 * answered as failed, so their backends fall back at once.
 */
static void
announce(void)
{
	int			owners[GPU_SLOTS];
	int			wake = 0;

	SpinLockAcquire(&gpu_shared->mutex);
	gpu_shared->worker_procno = MyProc->pgprocno;
	gpu_shared->incarnation++;
	gpu_shared->ready = false;
	strlcpy(gpu_shared->status, "the GPU worker is opening the device", GPU_MESSAGE_LEN);
	gpu_shared->resident_count = 0;
	for (int i = 0; i < GPU_SLOTS; i++)
	{
		GpuSlot    *slot = &gpu_shared->slots[i];

		if (slot->state != GPU_SLOT_RUNNING)
			continue;
		slot->outcome = GPU_OUTCOME_FAILED;
		strlcpy(slot->message, "the GPU worker restarted", GPU_MESSAGE_LEN);
		slot->state = slot->abandoned ? GPU_SLOT_FREE : GPU_SLOT_DONE;
		if (!slot->abandoned)
			owners[wake++] = slot->owner_procno;
	}
	SpinLockRelease(&gpu_shared->mutex);
	for (int i = 0; i < wake; i++)
		SetLatch(&ProcGlobal->allProcs[owners[i]].procLatch);
}

static void
depart(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	SpinLockAcquire(&gpu_shared->mutex);
	gpu_shared->worker_procno = -1;
	gpu_shared->ready = false;
	strlcpy(gpu_shared->status, "the GPU worker is not running", GPU_MESSAGE_LEN);
	gpu_shared->resident_count = 0;
	SpinLockRelease(&gpu_shared->mutex);
}

void
hybridsearch_gpu_worker_main(Datum arg pg_attribute_unused())
{
	HASHCTL		ctl;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(GpuMatrixKey);
	ctl.entrysize = sizeof(ResidentMatrix);
	matrices = hash_create("hybridsearch GPU matrices", 64, &ctl, HASH_ELEM | HASH_BLOBS);

	on_shmem_exit(depart, 0);
	announce();
	open_device();

	for (;;)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		serve_requests();
	}
}
