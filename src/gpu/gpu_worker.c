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
 *
 * Every index copy is split in stripes over the devices of
 * hybridsearch.gpu_devices, hybridsearch.gpu_parts_per_device parts on
 * each: row r lives in part r % parts, on device parts[r % parts].  Stripes
 * keep the parts within one row of each other whatever the appends, so
 * every GPU holds an equal share and the row numbering stays the backends'
 * own.  A search runs on every part at once and merges their top k in the
 * CUDA module (hs_gpu_search_parts).
 */
#include "postgres.h"

#include <dlfcn.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "gpu/gpu_shared.h"
#include "hs_gpu.h"
#include "hybridsearch.h"
#include "store/store.h"

PGDLLEXPORT void hybridsearch_gpu_worker_main(Datum arg);

PG_FUNCTION_INFO_V1(hybridsearch_gpu_status);

GpuShared  *gpu_shared = NULL;

/* The CUDA module's entry points, found with dlsym. */
typedef struct CudaModule
{
	void	   *handle;
	int			(*device_count) (int *count, char *errbuf, size_t errlen);
	int			(*open) (int device, char *errbuf, size_t errlen);
	void		(*close) (void);
	hs_gpu_matrix *(*matrix_create) (int device, int dim, int half, char *errbuf, size_t errlen);
	int			(*matrix_append) (hs_gpu_matrix *m, const float *rows, int64_t nrows,
								  char *errbuf, size_t errlen);
	int64_t		(*matrix_rows) (const hs_gpu_matrix *m);
	size_t		(*matrix_bytes) (const hs_gpu_matrix *m);
	void		(*matrix_free) (hs_gpu_matrix *m);
	int			(*search_parts) (hs_gpu_matrix *const *parts, int nparts, int metric,
								 const float *queries, int nqueries, int k, float *out_distances,
								 int64_t *out_rows, float *kernel_ms, char *errbuf, size_t errlen);
} CudaModule;

typedef struct ResidentMatrix
{
	GpuMatrixKey key;			/* hash key */
	uint32		epoch;
	int			nparts;			/* row r is in parts[r % nparts] */
	hs_gpu_matrix *parts[GPU_MAX_PARTS];
	uint64		last_used;
} ResidentMatrix;

static CudaModule cuda;
static bool device_open = false;
static int	device_count = 0;	/* the devices open */
static int	devices[GPU_MAX_DEVICES];
static int	nparts = 1;			/* parts of every new matrix */
/* the settings the devices were opened with */
static char *opened_devices = NULL;
static int	opened_parts_per_device = 1;
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

/*
 * hybridsearch.gpu_devices: "all" (count = 0, meaning every visible device)
 * or distinct device numbers separated by commas.  False when malformed.
 */
bool
gpu_parse_devices(const char *value, int *list, int *count)
{
	char	   *copy = pstrdup(value);
	List	   *items;
	ListCell   *cell;
	bool		ok;
	bool		all;

	*count = 0;
	ok = SplitIdentifierString(copy, ',', &items);
	all = ok && list_length(items) == 1 && pg_strcasecmp(linitial(items), "all") == 0;
	foreach(cell, ok && !all ? items : NIL)
	{
		char	   *end;
		long		device = strtol(lfirst(cell), &end, 10);

		ok = (*end == '\0' && end != (char *) lfirst(cell) && device >= 0 &&
			  device < GPU_MAX_DEVICES && *count < GPU_MAX_DEVICES);
		for (int i = 0; ok && i < *count; i++)
			ok = (list[i] != device);
		if (!ok)
			break;
		list[(*count)++] = (int) device;
	}
	ok = all || (ok && *count > 0);
	list_free(items);
	pfree(copy);
	return ok;
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
	Datum		values[7];
	bool		nulls[7] = {0};
	Datum		device_numbers[GPU_MAX_DEVICES];
	int			shown_devices = 0;
	int			parts = 0;
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
		shown_devices = gpu_shared->device_count;
		for (int i = 0; i < shown_devices; i++)
			device_numbers[i] = Int32GetDatum(gpu_shared->devices[i]);
		parts = gpu_shared->parts;
		SpinLockRelease(&gpu_shared->mutex);
	}
	values[0] = Int32GetDatum(procno >= 0 ? ProcGlobal->allProcs[procno].pid : 0);
	nulls[0] = (procno < 0);
	values[1] = BoolGetDatum(ready);
	values[2] = CStringGetTextDatum(status);
	values[3] = Int64GetDatum(matrices_resident);
	values[4] = Int64GetDatum(bytes);
	values[5] = PointerGetDatum(construct_array(device_numbers, shown_devices, INT4OID,
												sizeof(int32), true, TYPALIGN_INT));
	values[6] = Int32GetDatum(parts);
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
	cuda.device_count = dlsym(cuda.handle, "hs_gpu_device_count");
	cuda.open = dlsym(cuda.handle, "hs_gpu_open");
	cuda.close = dlsym(cuda.handle, "hs_gpu_close");
	cuda.matrix_create = dlsym(cuda.handle, "hs_gpu_matrix_create");
	cuda.matrix_append = dlsym(cuda.handle, "hs_gpu_matrix_append");
	cuda.matrix_rows = dlsym(cuda.handle, "hs_gpu_matrix_rows");
	cuda.matrix_bytes = dlsym(cuda.handle, "hs_gpu_matrix_bytes");
	cuda.matrix_free = dlsym(cuda.handle, "hs_gpu_matrix_free");
	cuda.search_parts = dlsym(cuda.handle, "hs_gpu_search_parts");
	if (!cuda.device_count || !cuda.open || !cuda.close || !cuda.matrix_create ||
		!cuda.matrix_append || !cuda.matrix_rows || !cuda.matrix_bytes || !cuda.matrix_free ||
		!cuda.search_parts)
	{
		snprintf(message, GPU_MESSAGE_LEN, "the CUDA module %s lacks an entry point", path);
		dlclose(cuda.handle);
		cuda.handle = NULL;
		return false;
	}
	return true;
}

/* devices[] and device_count from hybridsearch.gpu_devices; false and why not */
static bool
choose_devices(char *message)
{
	int			visible;

	if (cuda.device_count(&visible, message, GPU_MESSAGE_LEN) != HS_GPU_OK)
		return false;
	if (visible < 1)
	{
		strlcpy(message, "no CUDA device is visible", GPU_MESSAGE_LEN);
		return false;
	}
	if (!gpu_parse_devices(hybridsearch_gpu_devices, devices, &device_count))
		elog(ERROR, "hybridsearch.gpu_devices passed its check but does not parse");
	if (device_count == 0)
	{
		device_count = Min(visible, GPU_MAX_DEVICES);
		for (int i = 0; i < device_count; i++)
			devices[i] = i;
	}
	for (int i = 0; i < device_count; i++)
	{
		if (devices[i] >= visible)
		{
			snprintf(message, GPU_MESSAGE_LEN,
					 "hybridsearch.gpu_devices names device %d, but %d device(s) are visible",
					 devices[i], visible);
			return false;
		}
	}
	return true;
}

/* Publish the open devices for hybridsearch_gpu_status(). */
static void
publish_devices(void)
{
	SpinLockAcquire(&gpu_shared->mutex);
	gpu_shared->device_count = device_open ? device_count : 0;
	memcpy(gpu_shared->devices, devices, sizeof(int) * device_count);
	gpu_shared->parts = device_open ? nparts : 0;
	SpinLockRelease(&gpu_shared->mutex);
}

/* "GPUs 0,1 ready, 2 parts per index" */
static void
describe_devices(char *message)
{
	StringInfoData text;

	initStringInfo(&text);
	appendStringInfo(&text, "GPU%s ", device_count > 1 ? "s" : "");
	for (int i = 0; i < device_count; i++)
		appendStringInfo(&text, "%s%d", i > 0 ? "," : "", devices[i]);
	appendStringInfo(&text, " ready, %d part%s per index", nparts, nparts > 1 ? "s" : "");
	strlcpy(message, text.data, GPU_MESSAGE_LEN);
	pfree(text.data);
}

static void
open_devices(void)
{
	char		message[GPU_MESSAGE_LEN];

	if (cuda.handle == NULL && !load_module(message))
	{
		set_status(false, message);
		return;
	}
	if (!choose_devices(message))
	{
		set_status(false, message);
		return;
	}
	for (int i = 0; i < device_count; i++)
	{
		if (cuda.open(devices[i], message, sizeof(message)) != HS_GPU_OK)
		{
			cuda.close();
			set_status(false, message);
			return;
		}
	}
	device_open = true;
	nparts = Min(device_count * hybridsearch_gpu_parts_per_device, GPU_MAX_PARTS);
	publish_devices();
	describe_devices(message);
	set_status(true, message);
}

static int64
matrix_rows(ResidentMatrix *entry)
{
	int64		rows = 0;

	for (int p = 0; p < entry->nparts; p++)
		rows += cuda.matrix_rows(entry->parts[p]);
	return rows;
}

static Size
matrix_bytes(ResidentMatrix *entry)
{
	Size		bytes = 0;

	for (int p = 0; p < entry->nparts; p++)
		bytes += cuda.matrix_bytes(entry->parts[p]);
	return bytes;
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
			gpu_shared->resident[count].rows = matrix_rows(entry);
			gpu_shared->resident[count].bytes = matrix_bytes(entry);
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

	for (int p = 0; p < entry->nparts; p++)
		cuda.matrix_free(entry->parts[p]);
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

/* After a sticky CUDA error or new settings: start over with fresh contexts. */
static void
reset_devices(const char *reason)
{
	drop_all_matrices();
	publish_resident();
	if (device_open)
		cuda.close();
	device_open = false;
	publish_devices();
	ereport(LOG, (errmsg("hybridsearch GPU worker: reopening the devices after: %s", reason)));
	open_devices();
}

static Size
resident_bytes(void)
{
	HASH_SEQ_STATUS status;
	ResidentMatrix *entry;
	Size		total = 0;

	hash_seq_init(&status, matrices);
	while ((entry = hash_seq_search(&status)) != NULL)
		total += matrix_bytes(entry);
	return total;
}

/*
 * Evict least recently used matrices other than keep until needed fits.
 * The limit is per GPU: every matrix is spread evenly over the devices.
 */
static bool
make_room(ResidentMatrix *keep, Size needed)
{
	Size		limit = (Size) hybridsearch_gpu_memory_limit_mb * 1024 * 1024 * device_count;

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
				reset_devices("a driver reset (injected fault)");
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

/* A matrix of nparts empty parts over the devices; NULL and why not. */
static ResidentMatrix *
create_matrix(GpuSlot *request, char *message)
{
	hs_gpu_matrix *parts[GPU_MAX_PARTS];
	ResidentMatrix *entry;
	bool		found;

	for (int p = 0; p < nparts; p++)
	{
		parts[p] = cuda.matrix_create(devices[p % device_count], request->key.dim,
									  request->key.half, message, GPU_MESSAGE_LEN);
		if (parts[p] == NULL)
		{
			while (--p >= 0)
				cuda.matrix_free(parts[p]);
			return NULL;
		}
	}
	entry = hash_search(matrices, &request->key, HASH_ENTER, &found);
	entry->epoch = request->epoch;
	entry->nparts = nparts;
	memcpy(entry->parts, parts, sizeof(hs_gpu_matrix *) * nparts);
	entry->last_used = ++use_clock;
	return entry;
}

/* Append rows to one part; out of device memory, evict the others once. */
static int
append_part(ResidentMatrix *entry, int part, const float *rows, int64 count, char *message)
{
	int			status = cuda.matrix_append(entry->parts[part], rows, count, message,
											GPU_MESSAGE_LEN);

	if (status == HS_GPU_ENOMEM && drop_other_matrices(entry))
		status = cuda.matrix_append(entry->parts[part], rows, count, message, GPU_MESSAGE_LEN);
	return status;
}

/*
 * Append rows [first, first + count) of the index, row-major fp32, to
 * their stripes: part p takes the rows whose number is p modulo nparts.
 */
static int
append_stripes(ResidentMatrix *entry, const float *rows, int64 first, int64 count,
			   char *message)
{
	int			dim = entry->key.dim;
	int			parts = entry->nparts;
	float	   *stripe;
	int			status = HS_GPU_OK;

	if (parts == 1)
		return append_part(entry, 0, rows, count, message);
	stripe = palloc(sizeof(float) * dim * (count / parts + 1));
	for (int p = 0; p < parts && status == HS_GPU_OK; p++)
	{
		int64		len = 0;

		for (int64 r = (p - first % parts + parts) % parts; r < count; r += parts)
			memcpy(stripe + (Size) dim * len++, rows + (Size) dim * r, sizeof(float) * dim);
		status = append_part(entry, p, stripe, len, message);
	}
	pfree(stripe);
	return status;
}

/*
 * Append a request's rows straight from the index's shared copy (store.h),
 * in chunks: no backend copies them.  HS_GPU_NOT_IN_STORE when the copy is
 * no longer there.
 */
static int
append_from_store(ResidentMatrix *entry, GpuSlot *request, char *message)
{
	int			dim = request->key.dim;
	int64		chunk_rows = Max(1, GPU_APPEND_BYTES / ((int64) sizeof(float) * dim));
	float	   *rows = palloc(sizeof(float) * dim * Min(chunk_rows, request->row_count));
	int			status = HS_GPU_OK;

	for (int64 done = 0; done < request->row_count && status == HS_GPU_OK; done += chunk_rows)
	{
		int64		count = Min(chunk_rows, request->row_count - done);

		if (!store_read_rows(request->key.database, request->key.node, request->key.half != 0,
							 request->epoch, request->first_row + done, count, rows))
			status = HS_GPU_NOT_IN_STORE;
		else
			status = append_stripes(entry, rows, request->first_row + done, count, message);
	}
	pfree(rows);
	return status;
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

	if (entry == NULL && (entry = create_matrix(request, message)) == NULL)
	{
		fail(request, message);
		return;
	}
	request->resident_rows = matrix_rows(entry);
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
	if (request->segment == DSM_HANDLE_INVALID)
		status = append_from_store(entry, request, message);
	else
	{
		segment = dsm_attach(request->segment);
		if (segment == NULL)
		{
			fail(request, "the requesting backend has gone");
			return;
		}
		status = append_stripes(entry, dsm_segment_address(segment), request->first_row,
								request->row_count, message);
		dsm_detach(segment);
	}
	if (status == HS_GPU_NOT_IN_STORE)
	{
		fail(request, "the index's shared copy was evicted while the GPU copy was filled");
		return;
	}
	if (status != HS_GPU_OK)
	{
		fail(request, message);
		if (status == HS_GPU_ECUDA)
			reset_devices(message);
		else
			drop_matrix(entry); /* some parts may have taken their rows */
		return;
	}
	request->resident_rows = matrix_rows(entry);
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

		request->resident_rows = entry ? matrix_rows(entry) : 0;
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
		status = cuda.search_parts(entry->parts, entry->nparts, first->metric, queries, searched,
								   k, distances, (int64_t *) rows, &kernel_ms, message,
								   sizeof(message));
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
			reset_devices(message);
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
	strlcpy(gpu_shared->status, "the GPU worker is opening the devices", GPU_MESSAGE_LEN);
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

/* After a reload: new devices or parts per device start over with them. */
static void
reopen_if_devices_changed(void)
{
	if (strcmp(opened_devices, hybridsearch_gpu_devices) == 0 &&
		opened_parts_per_device == hybridsearch_gpu_parts_per_device)
		return;
	pfree(opened_devices);
	opened_devices = pstrdup(hybridsearch_gpu_devices);
	opened_parts_per_device = hybridsearch_gpu_parts_per_device;
	reset_devices("a change of hybridsearch.gpu_devices or hybridsearch.gpu_parts_per_device");
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
	open_devices();
	opened_devices = pstrdup(hybridsearch_gpu_devices);
	opened_parts_per_device = hybridsearch_gpu_parts_per_device;

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
			reopen_if_devices_changed();
		}
		serve_requests();
	}
}
