/*
 * copy_load.c
 *	  Filling dense copies from an index's pages (see store.h).
 *
 * The first load of a large index whose entries all have one size (no
 * NULLs, one dimension count: the usual case) runs on several threads:
 * entry i then starts at stream byte i * entry size, so each thread knows
 * its rows' numbers and reads its share of the index's files with large
 * pread calls, after the index's dirty buffers have been written out.  The
 * bytes a copy uses never change afterwards except for VACUUM's dead
 * flags, which the metapage generation tracks (copy_refresh), and for
 * compaction's moves, which give a new epoch (a new copy) and run under a
 * lock no load can share, so reading the files is as good as reading the
 * buffers.  Checksums are verified as
 * the buffer manager would.  Any other load (appends since the copy was
 * made, NULLs, temporary indexes, a standby) walks the pages through the
 * buffer manager in this backend.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "utils/rel.h"

#include "store/copy_load.h"
#include "type/distance.h"
#include "type/distance_half.h"

void
row_bounds_merge(RowBounds *into, const RowBounds *from)
{
	into->max_norm = Max(into->max_norm, from->max_norm);
	into->max_l1 = Max(into->max_l1, from->max_l1);
	if (from->min_norm > 0.0 && (into->min_norm == 0.0 || from->min_norm < into->min_norm))
		into->min_norm = from->min_norm;
	into->untrusted += from->untrusted;
}

#define MAGNITUDE_LANES		8

/* A row's L2 and L1 norms and its largest magnitude, in lanes the compiler vectorizes. */
typedef struct RowMagnitudes
{
	double		norm;
	double		l1;
	float		max_abs;
} RowMagnitudes;

static RowMagnitudes
row_magnitudes(const float *values, int dim)
{
	double		squares[MAGNITUDE_LANES] = {0};
	double		sums[MAGNITUDE_LANES] = {0};
	float		maxima[MAGNITUDE_LANES] = {0};
	RowMagnitudes result = {0.0, 0.0, 0.0f};
	int			i = 0;

	for (; i + MAGNITUDE_LANES <= dim; i += MAGNITUDE_LANES)
		for (int lane = 0; lane < MAGNITUDE_LANES; lane++)
		{
			float		magnitude = fabsf(values[i + lane]);

			squares[lane] += (double) magnitude * magnitude;
			sums[lane] += magnitude;
			maxima[lane] = Max(maxima[lane], magnitude);
		}
	for (; i < dim; i++)
	{
		float		magnitude = fabsf(values[i]);

		squares[0] += (double) magnitude * magnitude;
		sums[0] += magnitude;
		maxima[0] = Max(maxima[0], magnitude);
	}
	for (int lane = 0; lane < MAGNITUDE_LANES; lane++)
	{
		result.norm += squares[lane];
		result.l1 += sums[lane];
		result.max_abs = Max(result.max_abs, maxima[lane]);
	}
	result.norm = sqrt(result.norm);
	return result;
}

/* Track the norms that bound the fast passes' errors. */
static void
track_norms(RowBounds *stats, const RowMagnitudes *row)
{
	stats->max_norm = Max(stats->max_norm, row->norm);
	stats->max_l1 = Max(stats->max_l1, row->l1);
	if (row->norm > 0.0 && (stats->min_norm == 0.0 || row->norm < stats->min_norm))
		stats->min_norm = row->norm;
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
fast_pass_trusted(bool half, float max_abs, float self_dot)
{
	if (max_abs == 0.0f)
		return true;			/* a zero vector: exact zeros everywhere */
	if (!isfinite(self_dot) || self_dot < FLT_MIN)
		return false;
	return !half || (max_abs <= HALF_MAX_VALUE && max_abs >= HALF_MIN_NORMAL);
}

/*
 * Write one row, the i-th of its extent.  Pure arithmetic: load threads
 * call it.  An untrusted half row keeps zeros and 1/scale 0.
 */
void
write_row(const CopyLayout *layout, int dim, bool half, char *extent, int64 i,
		  const float *values, const EntryHeader *entry, uint64 position, RowBounds *stats)
{
	float		self_dot = distance_kernels->dot(values, values, dim);
	RowMagnitudes magnitudes = row_magnitudes(values, dim);
	bool		trusted = fast_pass_trusted(half, magnitudes.max_abs, self_dot);
	float	   *scalar = (float *) (extent + layout->scalar_offset) + i;
	uint8	   *flags = (uint8 *) (extent + layout->flags_offset) + i;

	if (half)
	{
		uint16	   *dest = (uint16 *) (extent + i * layout->row_bytes);
		float	   *norm = (float *) (extent + layout->norm_offset) + i;

		((uint64 *) (extent + layout->position_offset))[i] = position;
		if (trusted)
		{
			float		scale = half_row_scale(values, dim);

			half_kernels->to_half(values, scale, dest, dim);
			*scalar = 1.0f / scale;
			*norm = (float) magnitudes.norm;
			track_norms(stats, &magnitudes);
		}
		else
		{
			memset(dest, 0, layout->row_bytes);
			*scalar = 0.0f;
			*norm = 0.0f;
		}
	}
	else
	{
		memcpy(extent + i * layout->row_bytes, values, layout->row_bytes);
		*scalar = self_dot;
		if (trusted)
			track_norms(stats, &magnitudes);
	}
	((ItemPointer) (extent + layout->tid_offset))[i] = entry->tid;
	*flags = ((entry->flags & ENTRY_DEAD) ? ROW_DEAD : 0) | (trusted ? 0 : ROW_UNTRUSTED);
	if (!trusted)
		stats->untrusted++;
}

/* The extents of one of a copy's chains, in order, as a load extends it. */
typedef struct ChainIds
{
	int64	   *ids;
	int64		count;
} ChainIds;

static void
chain_begin(StoreArena *arena, int64 first, int64 count, ChainIds *chain)
{
	chain->ids = palloc(sizeof(int64) * Max(count, 1));
	chain->count = 0;
	for (int64 e = first; e >= 0 && chain->count < count; e = arena->next_extent[e])
		chain->ids[chain->count++] = e;
}

/*
 * The address of a chain's extent number k (at most one past its end,
 * which grows the chain under the table lock); NULL if the arena cannot.
 */
static char *
chain_extent(StoreArena *arena, int slot, ChainIds *chain, int64 k, bool nulls)
{
	CopyHeader *header = &arena->copies[slot];
	bool		ok = true;

	if (k >= chain->count)
	{
		arena_lock(arena, true);
		ok = arena_grow(arena, slot, nulls ? 0 : 1, nulls ? 1 : 0);
		arena_unlock(arena);
		if (!ok)
			return NULL;
		chain->ids = repalloc(chain->ids, sizeof(int64) * (chain->count + 1));
		chain->ids[chain->count++] = nulls ? header->last_null_extent : header->last_row_extent;
	}
	return arena_extent(arena, chain->ids[k]);
}

/* Publish what a load wrote: readers that pin after this see it. */
void
copy_publish(StoreArena *arena, CopyHeader *header, int64 rows, int64 nulls, uint64 loaded_to,
		const RowBounds *stats)
{
	pg_write_barrier();
	arena_lock(arena, true);
	header->rows = rows;
	header->nulls = nulls;
	header->loaded_to = loaded_to;
	row_bounds_merge(&header->bounds, stats);
	arena_unlock(arena);
}

/*
 * Load the entries between the copy's loaded_to and end through the buffer
 * manager.  False when the arena cannot hold them.
 */
bool
copy_append(StoreArena *arena, int slot, Relation index, uint64 end)
{
	CopyHeader *header = &arena->copies[slot];
	CopyLayout	layout;
	int			dim = header->dim;
	bool		half = header->key.half != 0;
	ChainIds	row_chain;
	ChainIds	null_chain;
	int64		rows = header->rows;
	int64		nulls = header->nulls;
	float	   *values = palloc(sizeof(float) * Max(dim, 1));
	RowBounds	stats = {0};
	StreamReader reader;
	EntryHeader entry;
	uint64		position;

	copy_layout(dim, half, &layout);
	chain_begin(arena, header->first_row_extent, header->row_extents, &row_chain);
	chain_begin(arena, header->first_null_extent, header->null_extents, &null_chain);
	stream_reader_begin(&reader, index, header->loaded_to, end);
	while (stream_reader_next(&reader, &entry, values, &position))
	{
		char	   *extent;

		if (entry.flags & ENTRY_NULL)
		{
			int64		i = nulls % layout.nulls_per_extent;

			extent = chain_extent(arena, slot, &null_chain, nulls / layout.nulls_per_extent, true);
			if (extent == NULL)
				return false;
			((ItemPointer) extent)[i] = entry.tid;
			((uint8 *) (extent + layout.null_flags_offset))[i] =
				(entry.flags & ENTRY_DEAD) ? ROW_DEAD : 0;
			nulls++;
			continue;
		}
		if ((entry.flags & ENTRY_DEAD) && entry.dim != dim)
			continue;			/* a dead row of an older epoch: not numbered */
		hybrid_check_dims(index, dim, entry.dim);
		extent = chain_extent(arena, slot, &row_chain, rows / layout.rows_per_extent, false);
		if (extent == NULL)
			return false;
		write_row(&layout, dim, half, extent, rows % layout.rows_per_extent, values, &entry,
				  position, &stats);
		rows++;
	}
	copy_publish(arena, header, rows, nulls, end, &stats);
	pfree(values);
	pfree(row_chain.ids);
	pfree(null_chain.ids);
	return true;
}

/*
 * Set the dead flags VACUUM has set since the copy was loaded (flags only
 * ever go from live to dead within an epoch, so readers may look on).
 */
void
copy_refresh(StoreArena *arena, int slot, Relation index, uint32 generation)
{
	CopyHeader *header = &arena->copies[slot];
	CopyView   *view = copy_view(arena, slot, CurrentMemoryContext);
	int64		row = 0;
	int64		null = 0;
	StreamReader reader;
	EntryHeader entry;
	uint64		position;

	stream_reader_begin(&reader, index, 0, header->loaded_to);
	while (stream_reader_next(&reader, &entry, NULL, &position))
	{
		bool		dead = (entry.flags & ENTRY_DEAD) != 0;
		uint8	   *flags;

		if (entry.flags & ENTRY_NULL)
		{
			int64		per = view->layout.nulls_per_extent;

			flags = (uint8 *) (view->null_extents[null / per] + view->layout.null_flags_offset) +
				null % per;
			null++;
		}
		else if (dead && entry.dim != header->dim)
			continue;
		else
		{
			flags = (uint8 *) (view_row_extent(view, row) + view->layout.flags_offset) +
				view_row_index(view, row);
			row++;
		}
		if (dead)
			*flags |= ROW_DEAD;
	}
	arena_lock(arena, true);
	header->generation = generation;
	arena_unlock(arena);
}
