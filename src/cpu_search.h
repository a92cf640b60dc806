/*
 * cpu_search.h
 *	  Exact k-nearest-neighbour search over dense rows, in batches that grow
 *	  on demand.
 *
 * One pass computes a distance for every row (exact fp32, or approximate
 * from fp16 copies), using hybridsearch.cpu_threads threads.  Rows are then
 * pulled in growing batches by partial selection; an approximate batch is
 * re-scored with the operator's own function and a row is returned only
 * once no unpulled row can come before it (its exact distance is at most
 * the smallest unpulled approximate distance minus the error bound).
 */
#ifndef HYBRIDSEARCH_CPU_SEARCH_H
#define HYBRIDSEARCH_CPU_SEARCH_H

#include "cpu_cache.h"

typedef struct ScoredRow
{
	double		distance;
	int64		row;
} ScoredRow;

typedef struct CpuSearch
{
	Relation	index;
	DenseRows  *rows;
	DistanceMetric metric;
	const float *query;
	float		query_self_dot; /* dot(query, query), for cosine */
	bool		approximate;	/* distances from fp16 copies */
	double		margin;			/* bound on |approximate - exact| */
	int64		row_count;		/* rows and NULLs when the search began: */
	int64		null_count;		/* later appends to a shared copy stay out */
	ScoredRow  *scored;			/* one per row: [pulled | unpulled] */
	int64		pulled;			/* scored[0 .. pulled) have been pulled */
	double		pulled_max;		/* largest distance pulled so far */
	int64		batch;			/* size of the next pull */
	ScoredRow  *ready;			/* exact, min-heap: pulled, not returned */
	int64		ready_count;
	int64		ready_capacity;
	int64		nulls_returned;
	float	   *exact_buffer;	/* one row's fp32 values, for re-scoring */
} CpuSearch;

extern CpuSearch *cpu_search_begin(Relation index, DenseRows *rows,
								   DistanceMetric metric, const float *query);
extern bool cpu_search_next(CpuSearch *search, ItemPointer tid,
							double *distance, bool *distance_isnull);
extern int	float8_order(double a, double b);

#endif							/* HYBRIDSEARCH_CPU_SEARCH_H */
