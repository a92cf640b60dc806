/*
 * cpu_source.c
 *	  The CPU candidate source: one pass over the shared copy computes a
 *	  distance for every row not pulled yet (exact from fp32 rows,
 *	  approximate from fp16 ones) on hybridsearch.cpu_threads threads, then
 *	  pulls batches that start at 64 rows and double, by partial selection.
 */
#include "postgres.h"

#include <math.h>

#include "search/source.h"
#include "threads.h"
#include "type/distance.h"
#include "type/distance_half.h"

#define ROWS_PER_THREAD_MIN		4096

static ScoredRow
median_of_three(ScoredRow a, ScoredRow b, ScoredRow c)
{
	if (scored_order(&a, &b) > 0)
	{
		ScoredRow	swap = a;

		a = b;
		b = swap;
	}
	if (scored_order(&b, &c) > 0)
	{
		b = c;
		if (scored_order(&a, &b) > 0)
			b = a;
	}
	return b;
}

/* Rearrange a[0 .. n) so that a[0 .. k) holds the k smallest (quickselect). */
void
select_smallest(ScoredRow *a, int64 n, int64 k)
{
	int64		lo = 0,
				hi = n - 1;

	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;
		ScoredRow	pivot = median_of_three(a[lo], a[mid], a[hi]);
		int64		i = lo,
					j = hi;

		while (i <= j)
		{
			while (scored_order(&a[i], &pivot) < 0)
				i++;
			while (scored_order(&a[j], &pivot) > 0)
				j--;
			if (i <= j)
			{
				ScoredRow	swap = a[i];

				a[i++] = a[j];
				a[j--] = swap;
			}
		}
		if (k - 1 <= j)
			hi = j;
		else if (k - 1 >= i)
			lo = i;
		else
			break;
	}
}

/* The fast-pass distance of one row: exact for fp32 rows.  Pure arithmetic. */
static double
row_distance(const Search *search, int64 row)
{
	const CopyView *view = search->view;
	int			dim = view->dim;
	const uint16 *half;
	float		inv_scale;
	double		similarity;

	if (!view->half)
		return fp32_row_distance(search, row);
	half = view_values(view, row);
	inv_scale = view_scalar(view, row);
	if (inv_scale == 0.0f)
		return -INFINITY;		/* untrusted (copy_load.c): pulled first, scored exactly */
	switch (search->metric)
	{
		case METRIC_L2:
			return sqrt((double) half_kernels->l2_squared(search->query, half, inv_scale, dim));
		case METRIC_INNER_PRODUCT:
			return -(double) half_kernels->dot(search->query, half, dim) * inv_scale;
		case METRIC_COSINE:
			similarity = (double) half_kernels->dot(search->query, half, dim) * inv_scale /
				(search->query_norm * view_norm(view, row));
			return 1.0 - Max(-1.0, Min(1.0, similarity));
		case METRIC_L1:
			return half_kernels->l1(search->query, half, inv_scale, dim);
	}
	return NAN;
}

typedef struct PassSlice
{
	Search	   *search;
	int64		begin;
	int64		end;
} PassSlice;

static void *
score_slice(void *arg)
{
	PassSlice  *slice = (PassSlice *) arg;
	ScoredRow  *scored = slice->search->scored;

	for (int64 i = slice->begin; i < slice->end; i++)
		scored[i].distance = row_distance(slice->search, scored[i].row);
	return NULL;
}

/* The first pull: score every live row not pulled yet. */
static void
cpu_begin(Search *search)
{
	int64		count = 0;
	int			threads;
	PassSlice	slices[MAX_WORK_THREADS];

	search->scored = palloc_extended(sizeof(ScoredRow) * Max(search->row_count, 1),
									 MCXT_ALLOC_HUGE);
	if (search->pulled_set != NULL)
		pulled_rows_dense(search);	/* one bit test a row below */
	for (int64 row = 0; row < search->row_count; row++)
		if (!row_is_dead(search, row) && !row_pulled(search, row))
			search->scored[count++].row = row;
	search->scored_count = count;
	search->scored_pulled = 0;
	search->batch = FIRST_BATCH;
	search->pulled_max = -INFINITY;
	search->margin = search->half ?
		search_margin(search, ldexp(1.0, -11) + ldexp(1.0, -39) * sqrt(search->dim), 0.0) :
		0.0;
	threads = work_threads(count, ROWS_PER_THREAD_MIN);
	for (int t = 0; t < threads; t++)
	{
		slices[t].search = search;
		slices[t].begin = count * t / threads;
		slices[t].end = count * (t + 1) / threads;
	}
	run_on_threads(score_slice, slices, sizeof(PassSlice), threads);
}

/*
 * Pull the next batch of scored rows.  Approximate scores (a half copy's)
 * are within margin of the exact ones: such rows are deferred, and scored
 * exactly when they could be returned next.  The stream source shares it.
 */
void
pull_scored(Search *search, bool approximate)
{
	ScoredRow  *unpulled = search->scored + search->scored_pulled;
	int64		count = Min(search->batch, search->scored_count - search->scored_pulled);

	select_smallest(unpulled, search->scored_count - search->scored_pulled, count);
	for (int64 i = 0; i < count; i++)
	{
		ScoredRow	item = unpulled[i];

		if (float8_order(item.distance, search->pulled_max) > 0)
			search->pulled_max = item.distance;
		if (approximate)
			search_defer_candidate(search, item.row, item.distance - search->margin);
		else
			search_add_candidate(search, item.row, item.distance);
	}
	search->scored_pulled += count;
	search->batch = Min(search->batch * 2, (int64) 1 << 20);
}

static void
cpu_pull(Search *search)
{
	if (search->scored == NULL)
		cpu_begin(search);
	pull_scored(search, search->half);
}

static bool
cpu_exhausted(const Search *search)
{
	return search->scored != NULL && search->scored_pulled == search->scored_count;
}

const CandidateSource cpu_source = {SCAN_PATH_CPU, cpu_pull, cpu_exhausted};
