/*
 * stream_source.c
 *	  The candidate source of a search without a copy (the index does not
 *	  fit hybridsearch.shared_cache_size, or hybridsearch.cpu_cache is off):
 *	  one pass over the index's pages scores every live row exactly, with
 *	  the operator's own function, keeping only (distance, row) and the
 *	  TIDs; then batches are pulled as from the CPU pass.  Nothing of the
 *	  vectors outlives the page being read, so a scan's memory is about 22
 *	  bytes a row, and it reads what a sequential scan of the index would.
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

/* Read the pages up to meta's stream end, scoring rows as they come. */
void
stream_begin(Search *search, const HybridMetaPageData *meta)
{
	int64		capacity = Max(meta->entries, 1);
	int64		null_capacity = 0;
	float	   *values = palloc(sizeof(float) * Max(meta->dim, 1));
	StreamReader reader;
	EntryHeader entry;
	uint64		position;

	search->stream_tids = palloc_extended(sizeof(ItemPointerData) * capacity, MCXT_ALLOC_HUGE);
	search->scored = palloc_extended(sizeof(ScoredRow) * capacity, MCXT_ALLOC_HUGE);
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
			continue;			/* dead rows need no number: nothing else sees them */
		hybrid_check_dims(search->index, meta->dim, entry.dim);
		row = search->row_count++;
		search->stream_tids[row] = entry.tid;
		if (search->query)
		{
			search->scored[search->scored_count].row = row;
			search->scored[search->scored_count++].distance =
				distance_by_metric(search->metric, values, search->query, meta->dim);
		}
	}
	pfree(values);
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
