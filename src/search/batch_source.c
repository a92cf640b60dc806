/*
 * batch_source.c
 *	  The batched CPU source: its first pull takes candidates from a pass
 *	  shared with other queries, either with concurrent searches of the
 *	  same copy (batch_lane.c) or with the other queries of one statement
 *	  (hybridsearch_search_batch).  When a search needs more rows than
 *	  those, the CPU source goes on, skipping the rows already pulled.
 */
#include "postgres.h"

#include "search/batch_lane.h"
#include "search/batch_pass.h"

/*
 * Take a pass's candidates, each scored exactly when it could be returned
 * next; the rows left out are at least found->kth away by the pass's
 * arithmetic.  A pass over more rows
 * than the search sees (appended since it pinned the copy) serves it too:
 * their rows are skipped.
 */
void
batch_source_take(Search *search, const BatchCandidates *found)
{
	search->source = &batch_source;
	search_pull_untrusted(search);
	for (int i = 0; i < found->count; i++)
		search_take_pass_candidate(search, found->rows[i].row, found->rows[i].distance, false);
	search->batch_taken = true;
	search->batch_complete = found->complete;
	if (!found->complete)
	{
		search->pulled_max = found->kth;
		search->margin = search_dot_margin(search, found->kth, false);
	}
}

static void
batch_pull(Search *search)
{
	if (!search->batch_taken)
	{
		batch_lane_first_pull(search);
		return;
	}
	search_use_cpu(search);
	cpu_source.pull(search);
}

static bool
batch_exhausted(const Search *search)
{
	return search->batch_complete;
}

const CandidateSource batch_source = {SCAN_PATH_CPU, batch_pull, batch_exhausted};
