/*
 * source.h
 *	  The state of a search and the interface of its candidate sources.
 *	  For search/ and the GPU client only; the index AM sees search.h.
 *
 * A source adds candidates ("pulls") to a heap ordered by exact distance,
 * or defers them with a lower bound of it (scored exactly only when they
 * could be returned next, so that a LIMIT scores about as many rows as it
 * returns), and reports pulled_max: every row it has not pulled has a fast-pass
 * distance of at least pulled_max.  The fast pass may round differently
 * from the operator (half precision, GPU arithmetic) by at most margin, so
 * a pulled row is returned only when its exact distance is below
 * pulled_max - margin: no unpulled row can then come before it.  Rows of
 * equal distance come back in row (stream) order.
 *
 * Sources: the CPU pass over the shared copy (cpu_source.c), the GPU
 * worker (gpu/gpu_client.c), and the pass over the index's pages when no
 * copy can be had (stream_source.c).  A GPU failure swaps the search to
 * the CPU source, which skips the rows the GPU already pulled.
 */
#ifndef HYBRIDSEARCH_SOURCE_H
#define HYBRIDSEARCH_SOURCE_H

#include <math.h>

#include "index/hybrid.h"
#include "search/scored_heap.h"
#include "search/search.h"
#include "stats/scan_stats.h"
#include "store/store.h"

#define FIRST_BATCH				64	/* rows of a pass's first pull */

typedef struct CandidateSource
{
	ScanPath	path;			/* how hybridsearch_stats counts its scans */
	void		(*pull) (Search *search);
	bool		(*exhausted) (const Search *search);
} CandidateSource;

typedef struct GpuSource GpuSource;

struct Search
{
	Relation	index;
	ElementKind kind;
	DistanceMetric metric;		/* of a vector index */
	const float *query;			/* NULL: ORDER BY distance to NULL, or an
								 * index of another kind */
	/* an index of another kind than vector: the operator and its query */
	FmgrInfo   *distance_fn;	/* NULL: ORDER BY distance to NULL */
	Oid			distance_collation;
	Datum		query_value;	/* detoasted */
	float		query_self_dot; /* dot(query, query), for cosine */
	double		query_norm;
	double		query_l1;
	int			dim;
	bool		half;			/* the copy is fp16 */
	CopyView   *view;			/* the pinned copy; NULL when streaming */
	int64		rows_wanted;	/* rows the caller will take, 0 if unknown */
	int64		row_count;		/* rows and NULLs when the search began: */
	int64		null_count;		/* later appends stay out */
	RowBounds	bounds;			/* for error margins */

	/* rows of a streamed search, read from the pages */
	ItemPointerData *stream_tids;
	ItemPointerData *stream_null_tids;

	/* what the sources have pulled */
	const CandidateSource *source;
	double		margin;			/* bound on |fast-pass - exact| distance */
	double		pulled_max;		/* unpulled rows are at least this far */
	ScoredHeap	ready;			/* by exact distance: pulled, not returned */
	ScoredHeap	deferred;		/* by a lower bound of it: pulled, not scored */
	int64		rescored;		/* deferred rows scored exactly so far */
	int64		nulls_returned;
	int64		unordered_returned;
	/* rows a GPU or batched source pulled (pulled_rows.c): a set, or once dense a bitmap */
	struct pulledset_hash *pulled_set;
	uint8	   *pulled_bitmap;
	float	   *exact_buffer;	/* one row's fp32 values, for re-scoring */

	/* the CPU and stream sources: every row scored, pulled in batches */
	ScoredRow  *scored;			/* NULL until the pass ran */
	int64		scored_count;
	int64		scored_pulled;
	int64		batch;

	/* the batched source: candidates taken, and whether they are all rows */
	bool		batch_taken;
	bool		batch_complete;

	/* the GPU source, while it serves */
	GpuSource  *gpu;
	bool		used_gpu;		/* the GPU answered at least once */

	double		elapsed_ms;		/* time spent in search_begin and search_next */
	double		begin_ms;		/* of which search_begin's */
	int64		rows_returned;
	instr_time	first_returned; /* when search_next returned its first row */
	double		after_first_ms; /* time spent in search_next since then */
};

extern bool pulled_set_contains(struct pulledset_hash *set, int64 row);
extern void mark_pulled(Search *search, int64 row);
extern void pulled_rows_dense(Search *search);

/* Whether a GPU or batched source pulled a row already. */
static inline bool
row_pulled(const Search *search, int64 row)
{
	if (search->pulled_bitmap != NULL)
		return (search->pulled_bitmap[row / 8] & (1 << (row % 8))) != 0;
	return search->pulled_set != NULL && pulled_set_contains(search->pulled_set, row);
}

extern const CandidateSource cpu_source;
extern const CandidateSource batch_source;
extern const CandidateSource stream_source;
extern const CandidateSource gpu_source;

/* search.c */
extern double fp32_row_distance(const Search *search, int64 row);
extern double search_exact_distance(Search *search, int64 row);
extern void search_add_candidate(Search *search, int64 row, double exact_distance);
extern void search_defer_candidate(Search *search, int64 row, double lower_bound);
extern void search_take_pass_candidate(Search *search, int64 row, double pass_distance, bool tf32);
extern double search_margin(const Search *search, double element_rounding,
							double element_underflow);
extern double search_dot_margin(const Search *search, double pulled_max, bool tf32);
extern void search_pull_untrusted(Search *search);
extern void search_use_cpu(Search *search);
extern bool row_is_dead(const Search *search, int64 row);

/* cpu_source.c: the pull in batches both passes share */
extern void pull_scored(Search *search, bool approximate);
extern void select_smallest(ScoredRow *a, int64 n, int64 k);

/* batch_source.c */
struct BatchCandidates;
extern void batch_source_take(Search *search, const struct BatchCandidates *found);

/* Whether the search orders by a distance (its query is not NULL). */
static inline bool
search_is_ordered(const Search *search)
{
	return search->query != NULL || search->distance_fn != NULL;
}

/* stream_source.c */
extern void stream_begin(Search *search, const HybridMetaPageData *meta);

/* gpu/gpu_client.c */
extern bool gpu_route(Relation index, int64 rows);
extern bool gpu_source_begin(Search *search);
extern void gpu_first_pulls(Search **searches, int count);

#endif							/* HYBRIDSEARCH_SOURCE_H */
