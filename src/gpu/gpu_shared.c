/*
 * gpu_shared.c
 *	  What backends and the GPU worker share (see gpu_shared.h): its
 *	  shared memory, the worker's registration and published status, the
 *	  device list setting, and hybridsearch_gpu_status().
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/varlena.h"

#include "gpu/gpu_shared.h"

PG_FUNCTION_INFO_V1(hybridsearch_gpu_status);

GpuShared  *gpu_shared = NULL;
GpuSearchBuffer *gpu_search_buffers = NULL;

void
gpu_shared_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(GpuShared)));
	RequestAddinShmemSpace(mul_size(GPU_SLOTS, sizeof(GpuSearchBuffer)));
}

void
gpu_shared_init(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	gpu_search_buffers = ShmemInitStruct("hybridsearch_gpu_buffers",
										 mul_size(GPU_SLOTS, sizeof(GpuSearchBuffer)), &found);
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

/* The worker's state as hybridsearch_gpu_status() and routing see it. */
void
gpu_shared_set_status(bool ready, const char *status)
{
	SpinLockAcquire(&gpu_shared->mutex);
	gpu_shared->ready = ready;
	strlcpy(gpu_shared->status, status, GPU_MESSAGE_LEN);
	SpinLockRelease(&gpu_shared->mutex);
}
