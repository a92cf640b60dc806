/*
 * search.h
 *	  Exact k-nearest-neighbour ordering over the dense rows of an index,
 *	  fed by a candidate source: the CPU pass or the GPU worker.
 *
 * A source adds candidates ("pulls") to a heap ordered by exact distance
 * and reports pulled_max: every row it has not pulled has a fast-pass
 * distance of at least pulled_max.  The fast pass may round differently
 * from the operator (half precision, GPU arithmetic) by at most margin, so
 * a pulled row is returned only when its exact distance is below
 * pulled_max - margin: no unpulled row can then come before it.  Rows of
 * equal distance come back in stream order.
 *
 * The CPU source computes a distance for every row once (exact fp32, or
 * approximate from fp16 copies) on hybridsearch.cpu_threads threads, then
 * pulls batches that start at 64 rows and double, by partial selection.
 * The GPU source (gpu_client.c) asks the worker for the top K, K growing;
 * past the worker's largest K, or when the GPU fails mid-scan, the CPU
 * source takes over for the rows not yet pulled.
 */
#ifndef HYBRIDSEARCH_SEARCH_H
#define HYBRIDSEARCH_SEARCH_H

#include "store/cpu_cache.h"

typedef struct ScoredRow
{
	double		distance;
	int64		row;
} ScoredRow;

typedef struct GpuSource GpuSource;

typedef struct Search
{
	Relation	index;
	DenseRows  *rows;
	DistanceMetric metric;
	const float *query;
	float		query_self_dot; /* dot(query, query), for cosine */
	double		query_norm;
	double		query_l1;
	int64		row_count;		/* rows and NULLs when the search began: */
	int64		null_count;		/* later appends to a shared copy stay out */

	/* what the sources have pulled */
	double		margin;			/* bound on |fast-pass - exact| distance */
	double		pulled_max;		/* unpulled rows are at least this far */
	ScoredRow  *ready;			/* exact, min-heap: pulled, not returned */
	int64		ready_count;
	int64		ready_capacity;
	int64		nulls_returned;
	float	   *exact_buffer;	/* one row's fp32 values, for re-scoring */

	/* the CPU source */
	ScoredRow  *scored;			/* NULL until the CPU pass ran */
	int64		scored_count;	/* rows it scored (those not pulled before) */
	int64		scored_pulled;
	int64		batch;

	/* the GPU source, while it serves */
	GpuSource  *gpu;
	bool		used_gpu;		/* the GPU answered at least once */
	uint8	   *pulled_rows;	/* bitmap of rows the GPU source pulled */
} Search;

extern Search *search_begin(Relation index, DenseRows *rows, DistanceMetric metric,
							const float *query, bool use_gpu);
extern double search_exact_distance(Search *search, int64 row);
extern bool search_next(Search *search, ItemPointer tid, double *distance,
						bool *distance_isnull);
extern void search_add_candidate(Search *search, int64 row, double fast_distance);
extern double search_margin(const Search *search, double element_rounding,
							double element_underflow);
extern int	float8_order(double a, double b);

#endif							/* HYBRIDSEARCH_SEARCH_H */
