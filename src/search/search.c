/*
 * search.c
 *	  Exact k-nearest-neighbour ordering and its CPU candidate source (see
 *	  search.h).
 */
#include "postgres.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "miscadmin.h"

#include "type/distance_half.h"
#include "gpu/gpu_client.h"
#include "hybridsearch.h"
#include "search/search.h"

#define FIRST_BATCH				64
#define ROWS_PER_THREAD_MIN		4096
#define MAX_CPU_THREADS			64

/* Order of float8 values as PostgreSQL sorts them: NaN after everything. */
int
float8_order(double a, double b)
{
	if (isnan(a))
		return isnan(b) ? 0 : 1;
	if (isnan(b))
		return -1;
	return (a > b) - (a < b);
}

/*
 * Order of scored rows: by distance, equal distances by row (stream order),
 * so ties always come back in the same order.
 */
static inline int
scored_order(const ScoredRow *a, const ScoredRow *b)
{
	int			order = float8_order(a->distance, b->distance);

	if (order != 0)
		return order;
	return (a->row > b->row) - (a->row < b->row);
}

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

/*
 * The operator's distance for a row of an fp32 copy; cosine from the row's
 * cached dot(row, row), which gives the operator's very bits.  Pure
 * arithmetic: worker threads call it too.
 */
static double
fp32_distance(const Search *search, int64 row)
{
	const DenseRows *rows = search->rows;
	const float *values = rows->values + row * rows->dim;

	if (search->metric == METRIC_COSINE)
		return distance_cosine_from_dots(distance_kernels->dot(values, search->query, rows->dim),
										 rows->self_dots[row], search->query_self_dot);
	return distance_by_metric(search->metric, values, search->query, rows->dim);
}

/* The fast-pass distance of one row: exact for fp32 rows. */
static double
row_distance(const Search *search, int64 row)
{
	const DenseRows *rows = search->rows;
	int			dim = rows->dim;
	const uint16 *half;
	float		inv_scale;
	double		similarity;

	if (!rows->half)
		return fp32_distance(search, row);

	half = rows->half_values + row * dim;
	inv_scale = rows->inv_scales[row];
	if (inv_scale == 0.0f)
		return -INFINITY;		/* untrusted (cpu_cache.c): pulled first, scored exactly */
	switch (search->metric)
	{
		case METRIC_L2:
			return sqrt((double) half_kernels->l2_squared(search->query, half, inv_scale, dim));
		case METRIC_INNER_PRODUCT:
			return -(double) half_kernels->dot(search->query, half, dim) * inv_scale;
		case METRIC_COSINE:
			similarity = (double) half_kernels->dot(search->query, half, dim) * inv_scale /
				(search->query_norm * rows->norms[row]);
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

/* Runs in a worker thread: pure arithmetic, no PostgreSQL calls. */
static void *
score_slice(void *arg)
{
	PassSlice  *slice = (PassSlice *) arg;
	ScoredRow  *scored = slice->search->scored;

	for (int64 i = slice->begin; i < slice->end; i++)
		scored[i].distance = row_distance(slice->search, scored[i].row);
	return NULL;
}

static int
pass_threads(int64 rows)
{
	long		threads = hybridsearch_cpu_threads;

	if (threads <= 0)
		threads = sysconf(_SC_NPROCESSORS_ONLN);
	threads = Min(threads, MAX_CPU_THREADS);
	threads = Min(threads, rows / ROWS_PER_THREAD_MIN + 1);
	return (int) Max(threads, 1);
}

/*
 * Score search->scored[0 .. scored_count), splitting it among threads.
 * Threads start with every signal blocked, so PostgreSQL's handlers only
 * ever run in the backend's own thread; a thread that cannot start leaves
 * its slice to this one.
 */
static void
score_all(Search *search)
{
	int64		n = search->scored_count;
	int			threads = pass_threads(n);
	PassSlice	slices[MAX_CPU_THREADS];
	pthread_t	handles[MAX_CPU_THREADS];
	bool		started[MAX_CPU_THREADS];
	sigset_t	all,
				saved;

	for (int t = 0; t < threads; t++)
	{
		slices[t].search = search;
		slices[t].begin = n * t / threads;
		slices[t].end = n * (t + 1) / threads;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	for (int t = 1; t < threads; t++)
		started[t] = pthread_create(&handles[t], NULL, score_slice, &slices[t]) == 0;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);

	score_slice(&slices[0]);
	for (int t = 1; t < threads; t++)
	{
		if (started[t])
			pthread_join(handles[t], NULL);
		else
			score_slice(&slices[t]);
	}
}

/*
 * Bound on |fast-pass distance - operator's distance| when the fast pass
 * rounds each row element with relative error element_rounding plus
 * absolute error element_underflow: that, plus float summation error in
 * both computations (at most n * 2^-24 of the summed magnitudes each),
 * doubled for safety.
 */
double
search_margin(const Search *search, double element_rounding, double element_underflow)
{
	const DenseRows *rows = search->rows;
	double		n = Max(rows->dim, 1);
	double		summation = n * ldexp(1.0, -24) * 1.01;
	double		q = search->query_norm;

	switch (search->metric)
	{
		case METRIC_L2:
			return 2.0 * (element_rounding * rows->max_norm + element_underflow * sqrt(n) +
						  2.0 * summation * (q + rows->max_norm));
		case METRIC_INNER_PRODUCT:
			return 2.0 * ((element_rounding + 2.0 * summation) * q * rows->max_norm +
						  element_underflow * search->query_l1);
		case METRIC_COSINE:
			/* rounding moves the dot product and the row's norm alike */
			return 2.0 * (2.0 * element_rounding + 6.0 * summation +
						  (rows->min_norm > 0.0 ?
						   2.0 * element_underflow * sqrt(n) / rows->min_norm : 0.0));
		case METRIC_L1:
			return 2.0 * (element_rounding * rows->max_l1 + element_underflow * n +
						  2.0 * summation * (search->query_l1 + rows->max_l1));
	}
	return INFINITY;
}

/* Rearrange a[0 .. n) so that a[0 .. k) holds the k smallest (quickselect). */
static void
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

/* The operator's own distance for a row, from its fp32 values. */
double
search_exact_distance(Search *search, int64 row)
{
	DenseRows  *rows = search->rows;
	int			dim = rows->dim;

	if (!rows->half)
		return fp32_distance(search, row);
	hybrid_stream_read(search->index, rows->positions[row] + ENTRY_VALUES_OFFSET,
					   search->exact_buffer, sizeof(float) * dim);
	return distance_by_metric(search->metric, search->exact_buffer, search->query, dim);
}

static void
ready_push(Search *search, ScoredRow item)
{
	int64		i;

	if (search->ready_count == search->ready_capacity)
	{
		search->ready_capacity = Max(256, search->ready_capacity * 2);
		search->ready = search->ready == NULL ?
			palloc_extended(sizeof(ScoredRow) * search->ready_capacity, MCXT_ALLOC_HUGE) :
			repalloc_huge(search->ready, sizeof(ScoredRow) * search->ready_capacity);
	}
	i = search->ready_count++;
	while (i > 0)
	{
		int64		parent = (i - 1) / 2;

		if (scored_order(&search->ready[parent], &item) <= 0)
			break;
		search->ready[i] = search->ready[parent];
		i = parent;
	}
	search->ready[i] = item;
}

static ScoredRow
ready_pop(Search *search)
{
	ScoredRow	top = search->ready[0];
	ScoredRow	last = search->ready[--search->ready_count];
	int64		i = 0;

	for (;;)
	{
		int64		child = 2 * i + 1;

		if (child >= search->ready_count)
			break;
		if (child + 1 < search->ready_count &&
			scored_order(&search->ready[child + 1], &search->ready[child]) < 0)
			child++;
		if (scored_order(&last, &search->ready[child]) <= 0)
			break;
		search->ready[i] = search->ready[child];
		i = child;
	}
	if (search->ready_count > 0)
		search->ready[i] = last;
	return top;
}

/* A pulled row, with the operator's distance, waiting to be returned. */
void
search_add_candidate(Search *search, int64 row, double exact_distance)
{
	ScoredRow	item = {exact_distance, row};

	ready_push(search, item);
}

/*
 * The CPU source's first pull: score every row not pulled yet, exactly
 * for fp32 copies, approximately for fp16 ones.
 */
static void
cpu_begin(Search *search)
{
	int64		count = 0;

	search->scored = palloc_extended(sizeof(ScoredRow) * Max(search->row_count, 1),
									 MCXT_ALLOC_HUGE);
	for (int64 row = 0; row < search->row_count; row++)
		if (!search->rows->dead[row] &&
			(search->pulled_rows == NULL || !(search->pulled_rows[row / 8] & (1 << (row % 8)))))
			search->scored[count++].row = row;
	search->scored_count = count;
	search->scored_pulled = 0;
	search->batch = FIRST_BATCH;
	search->pulled_max = -INFINITY;
	search->margin = search->rows->half ?
		search_margin(search, ldexp(1.0, -11) + ldexp(1.0, -39) * sqrt(search->rows->dim), 0.0) :
		0.0;
	score_all(search);
}

static void
cpu_pull(Search *search)
{
	ScoredRow  *unpulled;
	int64		count;

	if (search->scored == NULL)
		cpu_begin(search);
	unpulled = search->scored + search->scored_pulled;
	count = Min(search->batch, search->scored_count - search->scored_pulled);
	select_smallest(unpulled, search->scored_count - search->scored_pulled, count);
	for (int64 i = 0; i < count; i++)
	{
		ScoredRow	item = unpulled[i];

		if (float8_order(item.distance, search->pulled_max) > 0)
			search->pulled_max = item.distance;
		if (search->rows->half)
			item.distance = search_exact_distance(search, item.row);
		ready_push(search, item);
	}
	search->scored_pulled += count;
	search->batch = Min(search->batch * 2, (int64) 1 << 20);
}

static bool
cpu_exhausted(const Search *search)
{
	return search->scored != NULL && search->scored_pulled == search->scored_count;
}

Search *
search_begin(Relation index, DenseRows *rows, DistanceMetric metric, const float *query,
			 bool use_gpu)
{
	Search	   *search = palloc0(sizeof(Search));

	search->index = index;
	search->rows = rows;
	search->metric = metric;
	search->query = query;
	search->row_count = rows->rows;
	search->null_count = rows->nulls;
	search->pulled_max = -INFINITY;
	search->query_self_dot = distance_kernels->dot(query, query, rows->dim);
	for (int i = 0; i < rows->dim; i++)
	{
		search->query_norm += (double) query[i] * query[i];
		search->query_l1 += fabs((double) query[i]);
	}
	search->query_norm = sqrt(search->query_norm);
	search->exact_buffer = palloc(sizeof(float) * Max(rows->dim, 1));
	if (use_gpu && search->row_count > 0)
		search->gpu = gpu_source_begin(search);
	return search;
}

/*
 * The next row in distance order: non-NULL vectors first (NaN distances
 * last among them), then the NULL ones.
 */
bool
search_next(Search *search, ItemPointer tid, double *distance, bool *distance_isnull)
{
	for (;;)
	{
		bool		exhausted = search->gpu ? gpu_source_exhausted(search->gpu) :
			(cpu_exhausted(search) || search->row_count == 0);

		if (search->ready_count > 0 &&
			(exhausted ||
			 float8_order(search->ready[0].distance, search->pulled_max - search->margin) < 0))
		{
			ScoredRow	next = ready_pop(search);

			*tid = search->rows->tids[next.row];
			*distance = next.distance;
			*distance_isnull = false;
			return true;
		}
		if (exhausted)
			break;
		CHECK_FOR_INTERRUPTS();
		if (search->gpu)
			gpu_source_pull(search);
		else
			cpu_pull(search);
	}
	if (search->nulls_returned < search->null_count)
	{
		*tid = search->rows->null_tids[search->nulls_returned++];
		*distance_isnull = true;
		return true;
	}
	return false;
}
