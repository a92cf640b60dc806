/*
 * copy_load_parallel.c
 *	  The first load of a large copy on several threads: each reads its
 *	  share of the index's files (hybrid_stream_parallel.c) and writes its
 *	  rows straight into the copy, after faulting its share of the copy's
 *	  memory in with one call.  Entry i of a uniform stream is row i.
 */
#include "postgres.h"

#include <sys/mman.h>

#include "store/copy_load.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE		23		/* Linux 5.14 */
#endif

/* What one load thread writes into, and the bounds it gathers. */
typedef struct LoadState
{
	const CopyLayout *layout;
	int			dim;
	bool		half;
	char	  **extents;		/* every row extent's address */
	int64		populated_to;	/* extents below it are faulted in */
	RowBounds	bounds;
} LoadState;

/*
 * Fault an extent in before writing it: the kernel then zeroes and maps
 * its pages without a trap per page.  An older kernel refuses, and the
 * writes fault them in instead.
 */
static void
populate(LoadState *state, int64 extent)
{
	if (extent < state->populated_to)
		return;
	(void) madvise(state->extents[extent], STORE_EXTENT_BYTES, MADV_POPULATE_WRITE);
	state->populated_to = extent + 1;
}

/* An EntryVisitor: entry i becomes row i.  Pure arithmetic. */
static void
load_entry(void *arg, int64 i, const EntryHeader *header, const float *values, uint64 position)
{
	LoadState  *state = (LoadState *) arg;
	int64		per_extent = state->layout->rows_per_extent;

	populate(state, i / per_extent);
	write_row(state->layout, state->dim, state->half, state->extents[i / per_extent],
			  i % per_extent, values, header, position, &state->bounds);
}

/* Reserve the extents, and list their addresses; NULL if the arena cannot. */
static char **
reserve_rows(StoreArena *arena, int slot, int64 rows, const CopyLayout *layout)
{
	CopyHeader *header = &arena->copies[slot];
	int64		needed = extents_for(rows, layout->rows_per_extent) - header->row_extents;
	char	  **extents;
	bool		ok;

	arena_lock(arena, true);
	ok = needed <= 0 || arena_grow(arena, slot, needed, 0);
	arena_unlock(arena);
	if (!ok)
		return NULL;
	extents = palloc(sizeof(char *) * Max(header->row_extents, 1));
	arena_chain(arena, header->first_row_extent, header->row_extents, extents);
	return extents;
}

/*
 * Load a new copy (nothing loaded yet) on several threads when its stream
 * allows.  False when it does not apply, the arena cannot hold it, or an
 * entry of another size was met: the caller then loads through
 * copy_append.  Errors are raised.
 */
bool
copy_load_parallel(StoreArena *arena, int slot, Relation index, const HybridMetaPageData *meta)
{
	CopyHeader *header = &arena->copies[slot];
	CopyLayout	layout;
	int			threads = stream_threads(meta);
	LoadState  *states;
	char	  **extents;
	RowBounds	bounds = {0};

	if (!stream_is_uniform(index, meta) || header->loaded_to != 0)
		return false;
	copy_layout(header->dim, header->key.half != 0, &layout);
	if ((extents = reserve_rows(arena, slot, meta->entries, &layout)) == NULL)
		return false;
	states = palloc0(sizeof(LoadState) * threads);
	for (int t = 0; t < threads; t++)
	{
		states[t].layout = &layout;
		states[t].dim = header->dim;
		states[t].half = header->key.half != 0;
		states[t].extents = extents;
	}
	if (!stream_read_parallel(index, meta, load_entry, states, sizeof(LoadState)))
		return false;
	for (int t = 0; t < threads; t++)
		row_bounds_merge(&bounds, &states[t].bounds);
	copy_publish(arena, header, meta->entries, 0, meta->stream_end, &bounds);
	return true;
}
