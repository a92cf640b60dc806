/*
 * cpu_cache.c
 *	  Backend-local dense copies of hybrid indexes (see cpu_cache.h).
 *
 * Copies live in this backend's memory, up to hybridsearch.cpu_cache_size
 * in all, least recently used first out.  An index too large for that, or
 * any index while hybridsearch.cpu_cache is off, is copied for one scan
 * into the scan's memory and dropped after it.  Measured against reading
 * pages on every scan in doc/benchmarks.md.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "storage/relfilenode.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "store/cpu_cache.h"
#include "type/distance_half.h"
#include "hybridsearch.h"

typedef struct CacheEntry
{
	RelFileNode node;			/* hash key */
	Oid			index_oid;
	uint32		generation;
	HybridPrecision precision;
	DenseRows  *rows;
	uint64		last_used;
} CacheEntry;

static HTAB *cache_table = NULL;
static MemoryContext cache_context = NULL;
static uint64 use_clock = 0;

static DenseRows *
dense_rows_create(MemoryContext parent, const HybridMetaPageData *meta, bool half)
{
	MemoryContext context = AllocSetContextCreate(parent, "hybrid dense rows",
												  ALLOCSET_DEFAULT_SIZES);
	DenseRows  *rows = MemoryContextAllocZero(context, sizeof(DenseRows));

	rows->context = context;
	rows->dim = meta->dim;
	rows->generation = meta->generation;
	rows->epoch = meta->epoch;
	rows->half = half;
	return rows;
}

Size
dense_rows_bytes(const DenseRows *rows)
{
	Size		per_row = sizeof(ItemPointerData) + sizeof(bool);

	if (rows->half)
		per_row += sizeof(uint16) * rows->dim + 2 * sizeof(float) + sizeof(uint64);
	else
		per_row += sizeof(float) * (rows->dim + 1);
	return per_row * rows->capacity + sizeof(ItemPointerData) * rows->null_capacity;
}

static void *
grow_array(MemoryContext context, void *array, Size element_size, int64 new_count)
{
	Size		size = element_size * Max(new_count, 1);

	if (array == NULL)
		return MemoryContextAllocHuge(context, size);
	return repalloc_huge(array, size);
}

static void
reserve_rows(DenseRows *rows, int64 needed)
{
	int64		capacity;

	if (needed <= rows->capacity)
		return;
	capacity = Max(needed, Max(1024, rows->capacity * 2));
	if (rows->half)
	{
		rows->half_values = grow_array(rows->context, rows->half_values,
									   sizeof(uint16) * rows->dim, capacity);
		rows->inv_scales = grow_array(rows->context, rows->inv_scales, sizeof(float), capacity);
		rows->norms = grow_array(rows->context, rows->norms, sizeof(float), capacity);
		rows->positions = grow_array(rows->context, rows->positions, sizeof(uint64), capacity);
	}
	else
	{
		rows->values = grow_array(rows->context, rows->values,
								  sizeof(float) * rows->dim, capacity);
		rows->self_dots = grow_array(rows->context, rows->self_dots, sizeof(float), capacity);
	}
	rows->tids = grow_array(rows->context, rows->tids, sizeof(ItemPointerData), capacity);
	rows->dead = grow_array(rows->context, rows->dead, sizeof(bool), capacity);
	rows->capacity = capacity;
}

/* Track the norms that bound the fast passes' errors; returns the L2 norm. */
static double
track_norms(DenseRows *rows, const float *values)
{
	double		sum_squares = 0.0;
	double		sum_abs = 0.0;
	double		norm;

	for (int i = 0; i < rows->dim; i++)
	{
		sum_squares += (double) values[i] * values[i];
		sum_abs += fabs((double) values[i]);
	}
	norm = sqrt(sum_squares);
	rows->max_norm = Max(rows->max_norm, norm);
	rows->max_l1 = Max(rows->max_l1, sum_abs);
	if (norm > 0.0 && (rows->min_norm == 0.0 || norm < rows->min_norm))
		rows->min_norm = norm;
	return norm;
}

/*
 * Whether a row's fast-pass distances stay within the error bounds of
 * search.h.  Its float dot(row, row) must neither overflow nor underflow,
 * since the cosine operator divides by it (which also keeps a half copy's
 * scale finite), and a half copy sent to the GPU must fit fp16 unscaled,
 * its largest element a normal fp16 (else the GPU sees a zero vector).
 * Untrusted rows are always pulled first and scored exactly.
 */
static bool
fast_pass_trusted(const DenseRows *rows, const float *values, float self_dot)
{
	float		max_abs = 0.0f;

	for (int i = 0; i < rows->dim; i++)
		if (fabsf(values[i]) > max_abs)
			max_abs = fabsf(values[i]);
	if (max_abs == 0.0f)
		return true;			/* a zero vector: exact zeros everywhere */
	if (!isfinite(self_dot) || self_dot < FLT_MIN)
		return false;
	return !rows->half || (max_abs <= HALF_MAX_VALUE && max_abs >= HALF_MIN_NORMAL);
}

static void
add_forced_row(DenseRows *rows, int64 row)
{
	if (rows->forced_count == rows->forced_capacity)
	{
		rows->forced_capacity = Max(16, rows->forced_capacity * 2);
		rows->forced_rows = grow_array(rows->context, rows->forced_rows, sizeof(int64),
									   rows->forced_capacity);
	}
	rows->forced_rows[rows->forced_count++] = row;
}

/* An untrusted half row keeps zeros and inv_scale 0, which marks it. */
static void
add_half_row(DenseRows *rows, const float *values, uint64 position, bool trusted)
{
	int64		row = rows->rows;
	uint16	   *half = rows->half_values + row * rows->dim;

	rows->positions[row] = position;
	if (!trusted)
	{
		memset(half, 0, sizeof(uint16) * rows->dim);
		rows->inv_scales[row] = 0.0f;
		rows->norms[row] = 0.0f;
		return;
	}
	{
		float		scale = half_row_scale(values, rows->dim);

		half_kernels->to_half(values, scale, half, rows->dim);
		rows->inv_scales[row] = 1.0f / scale;
		rows->norms[row] = (float) track_norms(rows, values);
	}
}

static void
add_null(DenseRows *rows, ItemPointer tid)
{
	if (rows->nulls == rows->null_capacity)
	{
		rows->null_capacity = Max(64, rows->null_capacity * 2);
		rows->null_tids = grow_array(rows->context, rows->null_tids,
									 sizeof(ItemPointerData), rows->null_capacity);
	}
	rows->null_tids[rows->nulls++] = *tid;
}

/* Load the entries between rows->loaded_to and end. */
static void
dense_rows_load(DenseRows *rows, Relation index, uint64 end)
{
	StreamReader reader;
	EntryHeader header;
	float	   *values = palloc(sizeof(float) * Max(rows->dim, 1));
	uint64		position;

	/*
	 * Room for every entry up to end at once (exact unless some are NULL):
	 * growing by doubling would fault in and copy the arrays repeatedly.
	 */
	if (rows->dim > 0)
		reserve_rows(rows, rows->rows + (int64) ((end - rows->loaded_to) /
												 ENTRY_ALIGNED_SIZE(rows->dim)));
	stream_reader_begin(&reader, index, rows->loaded_to, end);
	while (stream_reader_next(&reader, &header, values, &position))
	{
		bool		dead = (header.flags & ENTRY_DEAD) != 0;

		if ((header.flags & ENTRY_NULL) || (dead && header.dim != rows->dim))
		{
			/* NULLs are listed apart; dead rows of an older epoch not at all */
			if (!dead)
				add_null(rows, &header.tid);
		}
		else
		{
			float		self_dot = distance_kernels->dot(values, values, rows->dim);
			bool		trusted;

			hybrid_check_dims(index, rows->dim, header.dim);
			reserve_rows(rows, rows->rows + 1);
			trusted = fast_pass_trusted(rows, values, self_dot);
			if (!trusted)
				add_forced_row(rows, rows->rows);
			if (rows->half)
				add_half_row(rows, values, position, trusted);
			else
			{
				memcpy(rows->values + rows->rows * rows->dim, values,
					   sizeof(float) * rows->dim);
				rows->self_dots[rows->rows] = self_dot;
				if (trusted)
					track_norms(rows, values);
			}
			rows->dead[rows->rows] = dead;
			rows->tids[rows->rows++] = header.tid;
		}
		rows->loaded_to = reader.position;
	}
	pfree(values);
}

static void
cache_init(void)
{
	HASHCTL		ctl;

	cache_context = AllocSetContextCreate(TopMemoryContext, "hybridsearch CPU cache",
										  ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(RelFileNode);
	ctl.entrysize = sizeof(CacheEntry);
	ctl.hcxt = cache_context;
	cache_table = hash_create("hybridsearch CPU cache", 16, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static Size
cache_total_bytes(void)
{
	HASH_SEQ_STATUS status;
	CacheEntry *entry;
	Size		total = 0;

	hash_seq_init(&status, cache_table);
	while ((entry = hash_seq_search(&status)) != NULL)
		total += dense_rows_bytes(entry->rows);
	return total;
}

/* Free a copy now, or at its last unpin if a scan still uses it. */
static void
release_rows(DenseRows *rows)
{
	if (rows->pins > 0)
		rows->orphaned = true;
	else
		MemoryContextDelete(rows->context);
}

static void
cache_remove(CacheEntry *entry)
{
	RelFileNode node = entry->node;

	release_rows(entry->rows);
	hash_search(cache_table, &node, HASH_REMOVE, NULL);
}

/* Memory context reset callback of a scan that pinned rows. */
static void
unpin_rows(void *arg)
{
	DenseRows  *rows = (DenseRows *) arg;

	if (--rows->pins == 0 && rows->orphaned)
		MemoryContextDelete(rows->context);
}

static DenseRows *
pin_rows(DenseRows *rows, MemoryContext scan_context)
{
	MemoryContextCallback *callback = MemoryContextAlloc(scan_context,
														 sizeof(MemoryContextCallback));

	callback->func = unpin_rows;
	callback->arg = rows;
	MemoryContextRegisterResetCallback(scan_context, callback);
	rows->pins++;
	return rows;
}

/* Evict least recently used copies other than keep until within limit. */
static void
cache_evict(CacheEntry *keep)
{
	Size		limit = (Size) hybridsearch_cpu_cache_size_mb * 1024 * 1024;

	while (cache_total_bytes() > limit)
	{
		HASH_SEQ_STATUS status;
		CacheEntry *entry;
		CacheEntry *oldest = NULL;

		hash_seq_init(&status, cache_table);
		while ((entry = hash_seq_search(&status)) != NULL)
			if (entry != keep && (oldest == NULL || entry->last_used < oldest->last_used))
				oldest = entry;
		if (oldest == NULL)
			break;
		cache_remove(oldest);
	}
}

/*
 * The dense rows of index as of meta, from the cache when enabled and it
 * fits, else loaded into scan_context for this scan alone.
 */
DenseRows *
cpu_cache_get(Relation index, const HybridMetaPageData *meta,
			  HybridPrecision precision, MemoryContext scan_context, bool *from_cache)
{
	bool		half = (precision == PRECISION_HALF);
	CacheEntry *entry;
	bool		found;
	Size		limit = (Size) hybridsearch_cpu_cache_size_mb * 1024 * 1024;

	*from_cache = false;
	if (!hybridsearch_cpu_cache)
	{
		DenseRows  *rows = dense_rows_create(scan_context, meta, half);

		dense_rows_load(rows, index, meta->stream_end);
		return rows;
	}

	if (cache_table == NULL)
		cache_init();
	entry = hash_search(cache_table, &index->rd_node, HASH_ENTER, &found);
	if (found && (entry->generation != meta->generation || entry->rows->epoch != meta->epoch ||
				  entry->precision != precision || entry->rows->dim != meta->dim ||
				  entry->rows->loaded_to > meta->stream_end))
	{
		release_rows(entry->rows);
		found = false;
	}
	if (!found)
	{
		entry->index_oid = RelationGetRelid(index);
		entry->generation = meta->generation;
		entry->precision = precision;
		entry->rows = NULL;
		entry->rows = dense_rows_create(cache_context, meta, half);
	}
	entry->last_used = ++use_clock;

	PG_TRY();
	{
		dense_rows_load(entry->rows, index, meta->stream_end);
	}
	PG_CATCH();
	{
		/* a copy that failed to load (cancel, out of memory) is dropped */
		cache_remove(entry);
		PG_RE_THROW();
	}
	PG_END_TRY();

	cache_evict(entry);
	if (dense_rows_bytes(entry->rows) > limit)
	{
		/* too large to keep: the scan uses it, and it goes with the scan */
		DenseRows  *rows = pin_rows(entry->rows, scan_context);

		cache_remove(entry);
		return rows;
	}
	*from_cache = true;
	return pin_rows(entry->rows, scan_context);
}

/* What this backend holds for an index, for hybridsearch_stats. */
void
cpu_cache_usage(Oid index_oid, int64 *rows, Size *bytes)
{
	HASH_SEQ_STATUS status;
	CacheEntry *entry;

	*rows = 0;
	*bytes = 0;
	if (cache_table == NULL)
		return;
	hash_seq_init(&status, cache_table);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->index_oid == index_oid)
		{
			*rows += entry->rows->rows;
			*bytes += dense_rows_bytes(entry->rows);
		}
	}
}
