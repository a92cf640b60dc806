/*
 * stream_source.c
 *	  The candidate source of a search without a copy (the index does not
 *	  fit hybridsearch.shared_cache_size, or hybridsearch.cpu_cache is off):
 *	  one pass over the index's pages scores every live row exactly, with
 *	  the operator's own function, keeping only (distance, row) and the
 *	  TIDs; then batches are pulled as from the CPU pass.  Indexes over
 *	  bit and sparsevec always search this way: their rows are scored by
 *	  calling the operator's function on the value the entry holds.  Nothing of the
 *	  vectors outlives the page being read, so a scan's memory is about 22
 *	  bytes a row.  A uniform stream is read on several threads
 *	  (hybrid_stream_parallel.c), as a parallel sequential scan would read
 *	  the table; any other through the buffer manager.
 */
#include "postgres.h"

#include <math.h>

#include "utils/memutils.h"

#include "search/source.h"
#include "type/distance.h"

static void
add_null_tid(Search *search, ItemPointer tid, int64 *capacity)
{
	if (search->null_count == *capacity)
	{
		*capacity = Max(64, *capacity * 2);
		search->stream_null_tids = search->stream_null_tids == NULL ?
			palloc_extended(sizeof(ItemPointerData) * *capacity, MCXT_ALLOC_HUGE) :
			repalloc_huge(search->stream_null_tids, sizeof(ItemPointerData) * *capacity);
	}
	search->stream_null_tids[search->null_count++] = *tid;
}

/* What a scoring thread needs: the query and where to write. */
typedef struct ScoreState
{
	const Search *search;
	int			dim;
} ScoreState;

/*
 * An EntryVisitor: score entry i (row i of a uniform stream) exactly; a
 * dead row gets row number -1 and is dropped afterwards.  Pure arithmetic.
 */
static void
score_entry(void *arg, int64 i, const EntryHeader *header, const float *values,
			uint64 position pg_attribute_unused())
{
	ScoreState *state = (ScoreState *) arg;
	const Search *search = state->search;

	search->stream_tids[i] = header->tid;
	if (header->flags & ENTRY_DEAD)
		search->scored[i].row = -1;
	else
	{
		search->scored[i].row = i;
		if (search->query)
			search->scored[i].distance =
				distance_by_metric(search->metric, values, search->query, state->dim);
	}
}

/* Read a uniform stream on threads; false when it turns out not to be. */
static bool
stream_parallel(Search *search, const HybridMetaPageData *meta)
{
	int			threads = stream_threads(meta);
	ScoreState *states = palloc(sizeof(ScoreState) * threads);

	for (int t = 0; t < threads; t++)
	{
		states[t].search = search;
		states[t].dim = meta->dim;
	}
	if (!stream_read_parallel(search->index, meta, score_entry, states, sizeof(ScoreState)))
		return false;
	search->row_count = meta->entries;
	for (int64 i = 0; i < meta->entries; i++)
		if (search->scored[i].row >= 0)
			search->scored[search->scored_count++] = search->scored[i];
	return true;
}

/*
 * The operator's distance for an entry's words: float4 values of a vector
 * or halfvec index (the halfvec operators are vector's functions on them),
 * or the value itself for the other kinds, scored by the operator's own
 * function.
 */
static double
entry_distance(const Search *search, const float *values, int dim)
{
	if (hybrid_kind_is_dense(search->kind))
		return distance_by_metric(search->metric, values, search->query, dim);
	return DatumGetFloat8(FunctionCall2Coll(search->distance_fn, search->distance_collation,
											PointerGetDatum(values), search->query_value));
}

/* The dimensions of an entry: its word count for float4 values, else its value's. */
static int
entry_dim(const Search *search, const EntryHeader *entry, const float *values)
{
	return hybrid_kind_is_dense(search->kind) ? entry->dim : hybrid_value_dim(search->kind, values);
}

/* Read the pages through the buffer manager, scoring rows as they come. */
static void
stream_sequential(Search *search, const HybridMetaPageData *meta)
{
	int64		null_capacity = 0;
	int			words = hybrid_kind_is_dense(search->kind) ? Max(meta->dim, 1) : VECTOR_MAX_DIM;
	float	   *values = palloc(sizeof(float) * words);
	StreamReader reader;
	EntryHeader entry;
	uint64		position;

	stream_reader_begin(&reader, search->index, 0, meta->stream_end);
	while (stream_reader_next(&reader, &entry, values, &position))
	{
		bool		dead = (entry.flags & ENTRY_DEAD) != 0;
		int64		row;

		if (entry.flags & ENTRY_NULL)
		{
			if (!dead)
				add_null_tid(search, &entry.tid, &null_capacity);
			continue;
		}
		if (dead)
			continue;
		hybrid_check_dims(search->index, meta->dim, entry_dim(search, &entry, values));
		row = search->row_count++;
		search->stream_tids[row] = entry.tid;
		search->scored[search->scored_count].row = row;
		if (search_is_ordered(search))
			search->scored[search->scored_count].distance =
				entry_distance(search, values, meta->dim);
		search->scored_count++;
	}
	pfree(values);
}

/*
 * Score every live row of the index as meta shows it.  Dead rows need no
 * number here: nothing else sees a streamed search's rows.
 */
void
stream_begin(Search *search, const HybridMetaPageData *meta)
{
	int64		capacity = Max(meta->entries, 1);

	search->stream_tids = palloc_extended(sizeof(ItemPointerData) * capacity, MCXT_ALLOC_HUGE);
	search->scored = palloc_extended(sizeof(ScoredRow) * capacity, MCXT_ALLOC_HUGE);
	if (!stream_is_uniform(search->index, meta) || !stream_parallel(search, meta))
	{
		search->row_count = 0;
		search->scored_count = 0;
		stream_sequential(search, meta);
	}
	search->scored_pulled = 0;
	search->batch = FIRST_BATCH;
	search->margin = 0.0;
	search->pulled_max = -INFINITY;
}

static void
stream_pull(Search *search)
{
	pull_scored(search, false);
}

static bool
stream_exhausted(const Search *search)
{
	return search->scored_pulled == search->scored_count;
}

const CandidateSource stream_source = {SCAN_PATH_STREAM, stream_pull, stream_exhausted};
