/*
 * gpu_append.c
 *	  The GPU worker's appends: rows of an index's copy into its matrix on
 *	  the devices, from the shared copy or from a backend's segment
 *	  (gpu_worker.h).
 */
#include "postgres.h"

#include "storage/dsm.h"

#include "gpu/cuda_host.h"
#include "gpu/gpu_poll.h"
#include "gpu/gpu_resident.h"
#include "gpu/gpu_worker.h"
#include "hybridsearch.h"
#include "store/store.h"

/* hybridsearch.gpu_memory_limit over every open device; 0 for none. */
static Size
memory_limit(void)
{
	if (hybridsearch_gpu_memory_limit_mb <= 0)
		return 0;
	return (Size) hybridsearch_gpu_memory_limit_mb * 1024 * 1024 * worker_device_count;
}

/* Device bytes of rows rows of the request's index. */
static Size
rows_bytes(const GpuSlot *request, int64 rows)
{
	return sizeof(float) * request->key.dim * rows / (request->key.half ? 2 : 1);
}

/*
 * The first piece of an upload that brings a new copy to total_rows rows:
 * room for all of them on the devices at once, where the memory limit
 * allows; otherwise, or out of device memory, the appends grow the copy
 * as they go.  False when the request has failed.
 */
static bool
reserve_upload(GpuSlot *request, ResidentMatrix *entry, int64 total_rows)
{
	char		message[GPU_MESSAGE_LEN];
	int			status;

	if (gpu_resident_rows(entry) > 0 || total_rows <= request->row_count ||
		!gpu_resident_make_room(entry, rows_bytes(request, total_rows), memory_limit()))
		return true;
	status = gpu_resident_reserve(entry, total_rows, message);
	if (status == HS_GPU_ECUDA || status == CUDA_HOST_DIED)
	{
		worker_fail(request, message);
		if (status == HS_GPU_ECUDA)
			worker_reset_devices(message);
		return false;
	}
	return true;
}

/*
 * Append rows [first_row, first_row + row_count) of the request's index,
 * which the worker holds at rows (row-major fp32, in its own memory), to
 * the resident copy, part of an upload that brings it to total_rows;
 * NEED_ROWS when that copy holds another number of rows.
 */
static void
append_rows(GpuSlot *request, const float *rows, int64 total_rows)
{
	ResidentMatrix *entry = gpu_resident_find(&request->key, request->epoch);
	char		message[GPU_MESSAGE_LEN];
	int			status;

	if (entry == NULL &&
		(entry = gpu_resident_create(&request->key, request->epoch, worker_parts, worker_devices,
									 worker_device_count, message)) == NULL)
	{
		worker_fail(request, message);
		return;
	}
	request->resident_rows = gpu_resident_rows(entry);
	if (request->first_row != request->resident_rows)
	{
		request->outcome = GPU_OUTCOME_NEED_ROWS;
		return;
	}
	if (!reserve_upload(request, entry, total_rows))
		return;
	/* rows within a reservation take no more device memory */
	if (request->first_row + request->row_count > entry->reserved_rows &&
		!gpu_resident_make_room(entry, rows_bytes(request, request->row_count), memory_limit()))
	{
		worker_fail(request, "the index needs more GPU memory than hybridsearch.gpu_memory_limit allows");
		return;
	}
	status = gpu_resident_append(entry, rows, request->first_row, request->row_count, message);
	if (status != HS_GPU_OK)
	{
		worker_fail(request, message);
		if (status == HS_GPU_ECUDA)
			worker_reset_devices(message);
		else if (status != CUDA_HOST_DIED)
			gpu_resident_drop(entry);	/* some parts may have taken their rows */
		return;
	}
	request->resident_rows = gpu_resident_rows(entry);
	request->outcome = GPU_OUTCOME_OK;
}

/*
 * The rows of an append from the index's shared copy (store.h), read here
 * chunk by chunk: no backend copies them.  Searches that come in meanwhile
 * are served between chunks: loading a large index must not hold up the
 * other indexes' queries.  On the H200 machine, uploading 10M x 768 in
 * chunks of 64 MB, another index's queries waited 102 ms at the median for
 * the chunk in progress; with STORE_CHUNK_BYTES, 3.4 ms.
 */
#define STORE_CHUNK_BYTES		(8 * 1024 * 1024)

static void
append_from_store(GpuSlot *request)
{
	int			dim = request->key.dim;
	int64		chunk_rows = Max(1, STORE_CHUNK_BYTES / ((int64) sizeof(float) * dim));
	float	   *rows = palloc(sizeof(float) * dim * Min(chunk_rows, Max(request->row_count, 1)));

	request->outcome = GPU_OUTCOME_OK;
	for (int64 done = 0; done < request->row_count && request->outcome == GPU_OUTCOME_OK;
		 done += chunk_rows)
	{
		GpuSlot		chunk = *request;

		chunk.first_row = request->first_row + done;
		chunk.row_count = Min(chunk_rows, request->row_count - done);
		if (!store_read_rows(request->key.database, request->key.node, request->key.half != 0,
							 request->epoch, chunk.first_row, chunk.row_count, rows))
		{
			worker_fail(request, "the index's shared copy was evicted while its GPU copy was filled");
			break;
		}
		append_rows(&chunk, rows, request->first_row + request->row_count);
		request->outcome = chunk.outcome;
		request->resident_rows = chunk.resident_rows;
		strlcpy(request->message, chunk.message, GPU_MESSAGE_LEN);
		if (gpu_requests_waiting())
			(void) worker_serve_requests(true);
	}
	pfree(rows);
}

/*
 * The rows of an append: from the shared copy, or (private copies) in the
 * requesting backend's segment.
 */
void
worker_handle_append(GpuSlot *request)
{
	dsm_segment *segment;

	if (request->segment == DSM_HANDLE_INVALID)
	{
		append_from_store(request);
		return;
	}
	segment = dsm_attach(request->segment);
	if (segment == NULL)
	{
		worker_fail(request, "the requesting backend has gone");
		return;
	}
	append_rows(request, dsm_segment_address(segment), request->first_row + request->row_count);
	dsm_detach(segment);
}
