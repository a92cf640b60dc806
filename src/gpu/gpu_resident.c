/*
 * gpu_resident.c
 *	  The GPU worker's resident index copies (see gpu_resident.h).
 *
 * The matrices themselves live in the CUDA host process; this table keeps
 * their handles and, per part, the rows and device bytes the host last
 * reported, so publishing and eviction need no round trip.  When the host
 * dies its matrices die with it: gpu_resident_forget_all() empties the
 * table without a call, and backends' next requests get NEED_ROWS and
 * send their rows again.
 */
#include "postgres.h"

#include "utils/hsearch.h"

#include "gpu/gpu_resident.h"

static HTAB *matrices = NULL;
static uint64 use_clock = 0;

void
gpu_resident_init(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(GpuMatrixKey);
	ctl.entrysize = sizeof(ResidentMatrix);
	matrices = hash_create("hybridsearch GPU matrices", 64, &ctl, HASH_ELEM | HASH_BLOBS);
}

int64
gpu_resident_rows(const ResidentMatrix *entry)
{
	int64		rows = 0;

	for (int p = 0; p < entry->nparts; p++)
		rows += entry->part_rows[p];
	return rows;
}

static Size
matrix_bytes(const ResidentMatrix *entry)
{
	Size		bytes = 0;

	for (int p = 0; p < entry->nparts; p++)
		bytes += entry->part_bytes[p];
	return bytes;
}

/* Publish the resident matrices for hybridsearch_stats. */
void
gpu_resident_publish(void)
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
			gpu_shared->resident[count].rows = gpu_resident_rows(entry);
			gpu_shared->resident[count].bytes = matrix_bytes(entry);
			count++;
		}
	}
	gpu_shared->resident_count = count;
	SpinLockRelease(&gpu_shared->mutex);
}

void
gpu_resident_drop(ResidentMatrix *entry)
{
	GpuMatrixKey key = entry->key;

	for (int p = 0; p < entry->nparts; p++)
		cuda_host_matrix_free(entry->parts[p]);
	hash_search(matrices, &key, HASH_REMOVE, NULL);
}

/*
 * The CUDA host stopped or died and took the matrices with it: only the
 * table is left to empty.
 */
void
gpu_resident_forget_all(void)
{
	HASH_SEQ_STATUS status;
	ResidentMatrix *entry;

	hash_seq_init(&status, matrices);
	while ((entry = hash_seq_search(&status)) != NULL)
		hash_search(matrices, &entry->key, HASH_REMOVE, NULL);
}

/* The matrix of key at epoch, or NULL; a matrix at another epoch is dropped. */
ResidentMatrix *
gpu_resident_find(const GpuMatrixKey *key, uint32 epoch)
{
	ResidentMatrix *entry = hash_search(matrices, key, HASH_FIND, NULL);

	if (entry && entry->epoch != epoch)
	{
		gpu_resident_drop(entry);
		entry = NULL;
	}
	if (entry)
		entry->last_used = ++use_clock;
	return entry;
}

/* A matrix of nparts empty parts over the devices; NULL and why not. */
ResidentMatrix *
gpu_resident_create(const GpuMatrixKey *key, uint32 epoch, int nparts, const int *devices,
					int device_count, char *message)
{
	HostMatrix	parts[GPU_MAX_PARTS];
	ResidentMatrix *entry;
	bool		found;

	for (int p = 0; p < nparts; p++)
	{
		parts[p] = cuda_host_matrix_create(devices[p % device_count], key->dim, key->half,
										   message);
		if (parts[p] == 0)
		{
			while (--p >= 0)
				cuda_host_matrix_free(parts[p]);
			return NULL;
		}
	}
	entry = hash_search(matrices, key, HASH_ENTER, &found);
	entry->epoch = epoch;
	entry->nparts = nparts;
	memcpy(entry->parts, parts, sizeof(HostMatrix) * nparts);
	memset(entry->part_rows, 0, sizeof(entry->part_rows));
	memset(entry->part_bytes, 0, sizeof(entry->part_bytes));
	entry->reserved_rows = 0;
	entry->kernel_ms = 0.0f;
	entry->last_used = ++use_clock;
	return entry;
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
 * Evict least recently used matrices other than keep until needed more
 * bytes fit under limit (0: no limit); false if they cannot.
 */
bool
gpu_resident_make_room(ResidentMatrix *keep, Size needed, Size limit)
{
	if (limit == 0)
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
		gpu_resident_drop(oldest);
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
			gpu_resident_drop(entry);
			dropped = true;
		}
	}
	return dropped;
}

/*
 * Room for total_rows rows of the index in its parts, allocated at once:
 * an upload of known size then neither grows nor copies a part on the
 * device (growth is geometric, holding the old and new allocations at
 * once).  HS_GPU_OK, or the first part's failure.
 */
int
gpu_resident_reserve(ResidentMatrix *entry, int64 total_rows, char *message)
{
	int			parts = entry->nparts;
	int			status = HS_GPU_OK;

	for (int p = 0; p < parts && status == HS_GPU_OK; p++)
		status = cuda_host_matrix_reserve(entry->parts[p], (total_rows - p + parts - 1) / parts,
										  &entry->part_bytes[p], message);
	if (status == HS_GPU_OK)
		entry->reserved_rows = total_rows;
	return status;
}

/* Append the rows staged to one part; out of device memory, evict the others once. */
static int
append_staged(ResidentMatrix *entry, int part, int64 count, char *message)
{
	int			status = cuda_host_matrix_append_staged(entry->parts[part], count,
														&entry->part_rows[part],
														&entry->part_bytes[part], message);

	if (status == HS_GPU_ENOMEM && drop_other_matrices(entry))
		status = cuda_host_matrix_append_staged(entry->parts[part], count,
												&entry->part_rows[part],
												&entry->part_bytes[part], message);
	return status;
}

/*
 * Append rows [first, first + count) of the index, row-major fp32 in the
 * worker's memory, to their stripes: part p takes the rows whose number is
 * p modulo nparts, gathered into the host's staging area a chunk at a time.
 * HS_GPU_OK, or the failure (some parts may have taken rows: drop the
 * matrix unless the host died).
 */
int
gpu_resident_append(ResidentMatrix *entry, const float *rows, int64 first, int64 count,
					char *message)
{
	int			dim = entry->key.dim;
	int			parts = entry->nparts;
	int64		capacity;
	float	   *staging = cuda_host_staging(&capacity);
	int64		chunk_rows = capacity / dim;
	int			status = HS_GPU_OK;

	for (int p = 0; p < parts && status == HS_GPU_OK; p++)
	{
		int64		r = (p - first % parts + parts) % parts;

		while (r < count && status == HS_GPU_OK)
		{
			int64		staged = 0;

			for (; r < count && staged < chunk_rows; r += parts)
				memcpy(staging + (Size) dim * staged++, rows + (Size) dim * r,
					   sizeof(float) * dim);
			status = append_staged(entry, p, staged, message);
		}
	}
	return status;
}
