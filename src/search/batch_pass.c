/*
 * batch_pass.c
 *	  The batched CPU pass (batch_pass.h): rows in chunks that never cross
 *	  an extent, split over hybridsearch.cpu_threads threads; each thread
 *	  multiplies every query by its chunk with sgemm and keeps, per query,
 *	  the rows below that query's running threshold.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "search/batch_pass.h"
#include "search/blas.h"
#include "threads.h"
#include "type/distance.h"

#define CHUNK_ROWS				128 /* rows one sgemm call takes: measured best for few queries */
#define QUERY_GROUP				256 /* queries one pass over the rows serves */
#define ROWS_PER_THREAD_MIN		4096

/* One query's candidates on one thread: up to 2 * BATCH_WANT, then cut. */
typedef struct QueryKeep
{
	int			count;
	bool		cut;			/* threshold holds: a cut dropped rows */
	double		threshold;		/* dropped rows are at least this */
	ScoredRow	rows[2 * BATCH_WANT];
} QueryKeep;

typedef struct PassThread
{
	const CopyView *view;
	DistanceMetric metric;
	SgemmQueriesByRows sgemm;
	int			query_count;
	const float *queries;
	int64		begin;
	int64		end;
	float	   *dots;			/* query_count x CHUNK_ROWS */
	float	   *converted;		/* CHUNK_ROWS x dim, for a half copy */
	double		row_factor[CHUNK_ROWS]; /* 1 / norm (cosine: NaN for a zero row,
										 * as the operator), dot(row, row) (L2) */
	bool		row_live[CHUNK_ROWS];
	QueryKeep  *keep;			/* query_count of them */
} PassThread;

bool
batch_pass_possible(DistanceMetric metric)
{
	return metric != METRIC_L1;
}

/*
 * The threads keep an order key, not the distance: for one query the
 * distance is a non-decreasing function of it (distance_from_key), so the
 * same rows are kept, at a multiply per row and query.
 */
static void
chunk_factors(PassThread *pass, int64 first, int rows)
{
	const CopyView *view = pass->view;

	for (int r = 0; r < rows; r++)
	{
		int64		row = first + r;
		double		self_dot = view->half ? (double) view_norm(view, row) * view_norm(view, row) :
			view_scalar(view, row);

		/* untrusted rows are scored exactly by each search up front */
		pass->row_live[r] = !(view_flags(view, row) & (ROW_DEAD | ROW_UNTRUSTED));
		if (pass->metric == METRIC_COSINE)
			pass->row_factor[r] = self_dot > 0.0 ? 1.0 / sqrt(self_dot) : NAN;
		else
			pass->row_factor[r] = self_dot;
	}
}

static inline double
key_from_dot(DistanceMetric metric, float dot, double row_factor)
{
	if (metric == METRIC_COSINE)
		return -(double) dot * row_factor;
	if (metric == METRIC_L2)
		return row_factor - 2.0 * dot;
	return -(double) dot;
}

static double
distance_from_key(DistanceMetric metric, double query_self_dot, double key)
{
	double		similarity;

	if (metric == METRIC_COSINE)
	{
		similarity = query_self_dot > 0.0 ? -key / sqrt(query_self_dot) : 0.0;
		return 1.0 - Max(-1.0, Min(1.0, similarity));
	}
	if (metric == METRIC_L2)
		return sqrt(Max(0.0, query_self_dot + key));
	return key;
}

/* Keep the BATCH_WANT smallest, and remember where the cut fell. */
static void
keep_cut(QueryKeep *keep)
{
	double		largest = -INFINITY;

	select_smallest(keep->rows, keep->count, BATCH_WANT);
	keep->count = BATCH_WANT;
	for (int i = 0; i < BATCH_WANT; i++)
		if (float8_order(keep->rows[i].distance, largest) > 0)
			largest = keep->rows[i].distance;
	keep->threshold = largest;
	keep->cut = true;
}

static void
score_chunk(PassThread *pass, int64 first, int rows)
{
	const CopyView *view = pass->view;
	const float *values = view_values(view, first);
	int			ld = view->dim;

	if (view->half)
	{
		view_rows_as_float(view, first, rows, pass->converted);
		values = pass->converted;
	}
	else
		ld = view->layout.row_bytes / sizeof(float);
	pass->sgemm(pass->query_count, rows, view->dim, pass->queries, values, ld, pass->dots);
	chunk_factors(pass, first, rows);
	for (int q = 0; q < pass->query_count; q++)
	{
		const float *dots = pass->dots + (Size) q * rows;
		QueryKeep  *keep = &pass->keep[q];

		for (int r = 0; r < rows; r++)
		{
			double		key;

			if (!pass->row_live[r])
				continue;
			key = key_from_dot(pass->metric, dots[r], pass->row_factor[r]);
			/* NaN compares false: after a cut it is at least any threshold */
			if (keep->cut && !(key < keep->threshold))
				continue;
			keep->rows[keep->count].distance = key;
			keep->rows[keep->count].row = first + r;
			if (++keep->count == 2 * BATCH_WANT)
				keep_cut(keep);
		}
	}
}

static void *
pass_thread(void *arg)
{
	PassThread *pass = (PassThread *) arg;
	int64		per_extent = pass->view->layout.rows_per_extent;
	int64		row = pass->begin;

	while (row < pass->end)
	{
		int64		extent_end = (row / per_extent + 1) * per_extent;
		int			rows = (int) Min(Min(pass->end, extent_end) - row, CHUNK_ROWS);

		score_chunk(pass, row, rows);
		row += rows;
	}
	return NULL;
}

/* One query's keeps of every thread, merged into its candidates. */
static void
merge_keeps(const PassThread *pass, int threads, int q, ScoredRow *all, BatchCandidates *out)
{
	int			dim = pass[0].view->dim;
	const float *query = pass[0].queries + (Size) q * dim;
	double		query_self_dot = distance_kernels->dot(query, query, dim);
	int			count = 0;
	bool		cut = false;

	for (int t = 0; t < threads; t++)
	{
		const QueryKeep *keep = &pass[t].keep[q];

		memcpy(all + count, keep->rows, sizeof(ScoredRow) * keep->count);
		count += keep->count;
		cut |= keep->cut;
	}
	out->complete = !cut && count <= BATCH_WANT;
	if (count > BATCH_WANT)
		select_smallest(all, count, BATCH_WANT);
	out->count = Min(count, BATCH_WANT);
	qsort(all, out->count, sizeof(ScoredRow), (int (*) (const void *, const void *)) scored_order);
	for (int i = 0; i < out->count; i++)
	{
		out->rows[i].row = all[i].row;
		out->rows[i].distance = distance_from_key(pass[0].metric, query_self_dot, all[i].distance);
	}
	out->kth = out->count > 0 ? out->rows[out->count - 1].distance : INFINITY;
}

static void
run_group(const CopyView *view, int64 row_count, DistanceMetric metric, int query_count,
		  const float *queries, BatchCandidates *out)
{
	SgemmQueriesByRows sgemm = blas_sgemm();
	int			threads = work_threads(row_count, ROWS_PER_THREAD_MIN);
	PassThread *pass = palloc0(sizeof(PassThread) * threads);
	ScoredRow  *merged = palloc(sizeof(ScoredRow) * threads * 2 * BATCH_WANT);

	Assert(sgemm != NULL);
	for (int t = 0; t < threads; t++)
	{
		pass[t] = (PassThread)
		{
			.view = view,.metric = metric,.sgemm = sgemm,
				.query_count = query_count,.queries = queries,
				.begin = row_count * t / threads,.end = row_count * (t + 1) / threads,
				.dots = palloc(sizeof(float) * query_count * CHUNK_ROWS),
				.converted = view->half ? palloc(sizeof(float) * CHUNK_ROWS * view->dim) : NULL,
				.keep = palloc_extended(sizeof(QueryKeep) * query_count, MCXT_ALLOC_HUGE),
		};
		for (int q = 0; q < query_count; q++)
			pass[t].keep[q].count = 0, pass[t].keep[q].cut = false;
	}
	run_on_threads(pass_thread, pass, sizeof(PassThread), threads);
	for (int q = 0; q < query_count; q++)
		merge_keeps(pass, threads, q, merged, &out[q]);
	for (int t = 0; t < threads; t++)
	{
		pfree(pass[t].dots);
		if (pass[t].converted)
			pfree(pass[t].converted);
		pfree(pass[t].keep);
	}
	pfree(pass);
	pfree(merged);
}

/*
 * Candidates for query_count queries (query_count x dim floats) among rows
 * [0, row_count) of a pinned copy; the caller checked blas_sgemm() and
 * batch_pass_possible().  Queries go in groups, so memory stays bounded
 * however many there are.
 */
void
batch_pass_run(const CopyView *view, int64 row_count, DistanceMetric metric,
			   int query_count, const float *queries, BatchCandidates *out)
{
	for (int first = 0; first < query_count; first += QUERY_GROUP)
	{
		CHECK_FOR_INTERRUPTS();
		run_group(view, row_count, metric, Min(QUERY_GROUP, query_count - first),
				  queries + (Size) first * view->dim, out + first);
	}
}
