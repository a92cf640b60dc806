/*
 * batch_pass.h
 *	  One pass over a copy for many queries at once: a queries x rows block
 *	  of dot products with sgemm, then each query's candidates.
 *
 * The rows are read once for all the queries (DESIGN.md, decision 9).
 * sgemm rounds differently from the operators, so its distances only pick
 * candidates: a search re-scores them exactly, and the margin of a
 * dot-product pass (search_dot_margin) bounds what rounding can move.
 * L1 has no dot-product form: those queries run one at a time.
 */
#ifndef HYBRIDSEARCH_BATCH_PASS_H
#define HYBRIDSEARCH_BATCH_PASS_H

#include "search/source.h"

#define BATCH_WANT				128 /* candidates per query and pass */

/* One query's candidates from a batched pass. */
typedef struct BatchCandidates
{
	int			count;
	bool		complete;		/* every live, trusted row is listed */
	double		kth;			/* unlisted rows' pass distances are at least this */
	ScoredRow	rows[BATCH_WANT];	/* pass distances, not the operator's */
} BatchCandidates;

extern bool batch_pass_possible(DistanceMetric metric);
extern void batch_pass_run(const CopyView *view, int64 row_count, DistanceMetric metric,
						   int query_count, const float *queries, BatchCandidates *out);

#endif							/* HYBRIDSEARCH_BATCH_PASS_H */
