/*
 * search.c
 *	  Exact k-nearest-neighbour ordering over whatever candidate source
 *	  serves the search, and the choice of that source (see search.h and
 *	  source.h).
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "elapsed.h"
#include "search/batch_lane.h"
#include "search/batch_pass.h"
#include "search/blas.h"
#include "search/source.h"
#include "type/distance.h"
#include "type/halfvec.h"
#include "type/vector.h"

bool
row_is_dead(const Search *search, int64 row)
{
	return (view_flags(search->view, row) & ROW_DEAD) != 0;
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
	const RowBounds *bounds = &search->bounds;
	double		n = Max(search->dim, 1);
	double		summation = n * ldexp(1.0, -24) * 1.01;
	double		q = search->query_norm;

	switch (search->metric)
	{
		case METRIC_L2:
			return 2.0 * (element_rounding * bounds->max_norm + element_underflow * sqrt(n) +
						  2.0 * summation * (q + bounds->max_norm));
		case METRIC_INNER_PRODUCT:
			return 2.0 * ((element_rounding + 2.0 * summation) * q * bounds->max_norm +
						  element_underflow * search->query_l1);
		case METRIC_COSINE:
			/* rounding moves the dot product and the row's norm alike */
			return 2.0 * (2.0 * element_rounding + 6.0 * summation +
						  (bounds->min_norm > 0.0 ?
						   2.0 * element_underflow * sqrt(n) / bounds->min_norm : 0.0));
		case METRIC_L1:
			return 2.0 * (element_rounding * bounds->max_l1 + element_underflow * n +
						  2.0 * summation * (search->query_l1 + bounds->max_l1));
	}
	return INFINITY;
}

/*
 * The margin of a pass that scores rows through dot products (the GPU's
 * kernels, the batched CPU pass's sgemm) below pulled_max.  L2 is bounded
 * in squared form, since such a pass computes |q|^2 + |x|^2 - 2 q.x, whose
 * error is relative to the squared norms rather than to the distance.
 * With tf32, fp32 rows may have been multiplied in TF32 (the GPU's GEMM
 * path), which rounds each element as fp16 does, to 10 bits.
 */
double
search_dot_margin(const Search *search, double pulled_max, bool tf32)
{
	double		rounding = (search->half || tf32) ?
		ldexp(1.0, -11) + ldexp(1.0, -39) * sqrt(search->dim) : 0.0;
	double		underflow = search->half ? ldexp(1.0, -25) : 0.0;
	double		margin = search_margin(search, rounding, underflow);

	/* norms taken with rsqrtf (GPU) or apart from the dot (CPU): a few ulp */
	if (search->metric == METRIC_COSINE)
		margin += 2.0 * ldexp(1.0, -20);

	if (search->metric == METRIC_L2 && isfinite(pulled_max))
	{
		double		n = Max(search->dim, 1);
		double		summation = n * ldexp(1.0, -24) * 1.01;
		double		span = search->query_norm + search->bounds.max_norm;
		double		squared_error = 2.0 * (4.0 * summation + 2.0 * rounding) * span * span;
		double		floor = pulled_max * pulled_max - squared_error;

		margin = Max(margin, pulled_max - (floor > 0.0 ? sqrt(floor) : 0.0));
	}
	return margin;
}

/*
 * For a source that pulls the top rows of a pass other than the CPU's
 * (the GPU, a batched pass): the rows that pass cannot be trusted with
 * pulled first, scored exactly.
 */
void
search_pull_untrusted(Search *search)
{
	if (search->bounds.untrusted == 0)
		return;
	pulled_rows_dense(search);
	for (int64 row = 0; row < search->row_count; row++)
	{
		uint8		flags = view_flags(search->view, row);

		if (!(flags & ROW_UNTRUSTED))
			continue;
		mark_pulled(search, row);
		if (!(flags & ROW_DEAD))
			search_add_candidate(search, row, search_exact_distance(search, row));
	}
}

/*
 * The operator's distance for a row of an fp32 copy; cosine from the row's
 * cached dot(row, row), which gives the operator's very bits.  Pure
 * arithmetic: the CPU pass's threads call it too.
 */
double
fp32_row_distance(const Search *search, int64 row)
{
	const CopyView *view = search->view;
	const float *values = view_values(view, row);

	if (search->metric == METRIC_COSINE)
		return distance_cosine_from_dots(distance_kernels->dot(values, search->query, view->dim),
										 view_scalar(view, row), search->query_self_dot);
	return distance_by_metric(search->metric, values, search->query, view->dim);
}

/*
 * The operator's own distance for a row: from the copy's fp32 values, or
 * for a half copy from the row's entry in the index's pages.
 */
double
search_exact_distance(Search *search, int64 row)
{
	CopyView   *view = search->view;

	if (!view->half)
		return fp32_row_distance(search, row);
	hybrid_stream_read(search->index, view_position(view, row) + ENTRY_VALUES_OFFSET,
					   search->exact_buffer, sizeof(float) * view->dim);
	return distance_by_metric(search->metric, search->exact_buffer, search->query, view->dim);
}

/* A pulled row, with the operator's distance, waiting to be returned. */
void
search_add_candidate(Search *search, int64 row, double exact_distance)
{
	ScoredRow	item = {exact_distance, row};

	scored_heap_push(&search->ready, item);
}

/*
 * A pulled row whose exact distance is at least lower_bound, scored only
 * when a row returned next could be it (settle_deferred).  An unknown
 * bound (NaN) becomes -inf: scored before anything is returned.
 */
void
search_defer_candidate(Search *search, int64 row, double lower_bound)
{
	ScoredRow	item = {isnan(lower_bound) ? -INFINITY : lower_bound, row};

	scored_heap_push(&search->deferred, item);
}

/*
 * A row that a GPU or batched pass found at pass_distance, which is within
 * search_dot_margin of the exact distance: deferred, unless it was pulled
 * before, is newer than the search's copy, or is dead.  A pass distance
 * that is not finite bounds nothing: the row is scored first.
 */
void
search_take_pass_candidate(Search *search, int64 row, double pass_distance, bool tf32)
{
	if (row >= search->row_count || row_pulled(search, row))
		return;
	mark_pulled(search, row);
	if (row_is_dead(search, row))
		return;
	search_defer_candidate(search, row,
						   isfinite(pass_distance) ?
						   pass_distance - search_dot_margin(search, pass_distance, tf32) :
						   -INFINITY);
}

/*
 * Score the deferred rows that could come before the first ready one: every
 * one whose lower bound is not above its distance (equal distances go by
 * row, so a tie must be scored too).
 */
static void
settle_deferred(Search *search)
{
	while (search->deferred.count > 0 &&
		   (search->ready.count == 0 ||
			float8_order(search->deferred.items[0].distance, search->ready.items[0].distance) <= 0))
	{
		ScoredRow	item = scored_heap_pop(&search->deferred);

		search->rescored++;
		search_add_candidate(search, item.row, search_exact_distance(search, item.row));
	}
}

/* Hand the rest of the search to the CPU pass over the copy. */
void
search_use_cpu(Search *search)
{
	search->source = &cpu_source;
}

/* The query's norms and the first source; errors as the operator would. */
static void
begin_ordered(Search *search, const Vector *query, const HybridMetaPageData *meta)
{
	bool		has_rows = meta->entries > meta->null_entries;

	/* the operator's own error, raised only where it would evaluate */
	if (has_rows && meta->dim > 0 && meta->dim != query->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different %s dimensions %d and %d",
						hybrid_kind_type_name(search->kind), meta->dim, query->dim)));
	search->query = query->x;
	search->query_self_dot = distance_kernels->dot(query->x, query->x, query->dim);
	for (int i = 0; i < query->dim; i++)
	{
		search->query_norm += (double) query->x[i] * query->x[i];
		search->query_l1 += fabs((double) query->x[i]);
	}
	search->query_norm = sqrt(search->query_norm);
	search->exact_buffer = palloc(sizeof(float) * Max(query->dim, 1));
	search->pulled_max = -INFINITY;
}

/* With a copy: the GPU worker when routing says so and it starts, else the CPU. */
static void
choose_source(Search *search, bool null_query)
{
	search->half = search->view->half;
	search->row_count = search->view->rows;
	search->null_count = search->view->nulls;
	search->bounds = search->view->bounds;
	search->source = &cpu_source;
	if (null_query || search->row_count == 0)
		return;
	if (gpu_route(search->index, search->row_count) && gpu_source_begin(search))
		search->source = &gpu_source;
	else if (batch_lane_usable(search))
		search->source = &batch_source;
}

/*
 * A bit or sparsevec index keeps no copy: its search streams
 * the pages, scoring each row with the operator's own function, whose
 * errors (different dimensions) come as a sequential scan's would.
 */
static void
begin_streamed_value(Search *search, ScanKey orderby, const HybridMetaPageData *meta)
{
	if (!(orderby->sk_flags & SK_ISNULL))
	{
		search->distance_fn = &orderby->sk_func;
		search->distance_collation = orderby->sk_collation;
		search->query_value = PointerGetDatum(PG_DETOAST_DATUM(orderby->sk_argument));
	}
	stream_begin(search, meta);
	search->source = &stream_source;
}

/* The query as float4 values: a vector's own, a halfvec's converted exactly. */
static const Vector *
query_as_vector(ElementKind kind, Datum query)
{
	HalfVector *half;
	Vector	   *vec;

	if (kind != KIND_HALF)
		return DatumGetVector(query);
	half = DatumGetHalfVector(query);
	vec = vector_new(half->dim);
	for (int i = 0; i < half->dim; i++)
		vec->x[i] = half_to_float(half->x[i]);
	return vec;
}

/* A vector or halfvec index: its copy when there is one, else its pages. */
static void
begin_vector(Search *search, ScanKey orderby, HybridMetaPageData *meta)
{
	Relation	index = search->index;
	bool		null_query = (orderby->sk_flags & SK_ISNULL) != 0;

	search->metric = hybrid_index_metric(index);
	search->view = store_pin(index, meta, hybrid_index_precision(index), CurrentMemoryContext);
	if (!null_query)
		begin_ordered(search, query_as_vector(search->kind, orderby->sk_argument), meta);
	if (search->view == NULL)
	{
		stream_begin(search, meta);
		search->source = &stream_source;
	}
	else
		choose_source(search, null_query);
}

/*
 * Start a search for the scan's ORDER BY key, in the current memory
 * context, which must last as long as the search (the scan's).
 */
Search *
search_begin(Relation index, ScanKey orderby)
{
	Search	   *search = palloc0(sizeof(Search));
	HybridMetaPageData meta = hybrid_read_meta(index);
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	search->index = index;
	search->kind = hybrid_index_kind(index);
	search->dim = meta.dim;
	if (hybrid_kind_is_dense(search->kind))
		begin_vector(search, orderby, &meta);
	else
		begin_streamed_value(search, orderby, &meta);
	search->elapsed_ms = ms_since(start);
	search->begin_ms = search->elapsed_ms;
	return search;
}

/* Whether a search may take its first candidates from a shared batched pass. */
static bool
batchable(const Search *search, const Search *first)
{
	return search->view != NULL && search->query != NULL &&
		(search->source == &cpu_source || search->source == &batch_source) &&
		search->view->id == first->view->id && search->row_count == first->row_count;
}

/*
 * Start searches for several ORDER BY keys of one index at once, for
 * callers that will take about rows_wanted rows of each.  Those the CPU
 * serves from the same copy take their first candidates from one batched
 * pass (batch_pass.h); those the GPU serves send their first requests
 * together, for one launch; the others (streamed, or begun after an
 * append) go on alone.
 */
void
search_begin_many(Relation index, ScanKey orderbys, int count, int64 rows_wanted,
				  Search **searches)
{
	Search	   *first;
	float	   *queries;
	BatchCandidates *found;
	int			batched = 0;

	for (int i = 0; i < count; i++)
	{
		searches[i] = search_begin(index, &orderbys[i]);
		searches[i]->rows_wanted = rows_wanted;
	}
	gpu_first_pulls(searches, count);
	first = searches[0];
	if (count < 2 || !batchable(first, first) || !batch_pass_possible(first->metric) ||
		blas_sgemm() == NULL)
		return;
	queries = palloc(sizeof(float) * first->dim * count);
	for (int i = 0; i < count; i++)
		if (batchable(searches[i], first))
			memcpy(queries + (Size) first->dim * batched++, searches[i]->query,
				   sizeof(float) * first->dim);
	found = palloc_extended(sizeof(BatchCandidates) * batched, MCXT_ALLOC_HUGE);
	batch_pass_run(first->view, first->row_count, first->metric, batched, queries, found);
	batched = 0;
	for (int i = 0; i < count; i++)
		if (batchable(searches[i], first))
			batch_source_take(searches[i], &found[batched++]);
	pfree(queries);
	pfree(found);
}

static bool
next_null(Search *search, ItemPointer tid)
{
	while (search->nulls_returned < search->null_count)
	{
		int64		i = search->nulls_returned++;

		if (search->view == NULL)
		{
			*tid = search->stream_null_tids[i];
			return true;
		}
		if (!(view_null_flags(search->view, i) & ROW_DEAD))
		{
			*tid = *view_null_tid(search->view, i);
			return true;
		}
	}
	return false;
}

static ItemPointer
row_tid(Search *search, int64 row)
{
	return search->view ? view_tid(search->view, row) : &search->stream_tids[row];
}

/*
 * ORDER BY distance to NULL: every distance is NULL, any order will do.
 * A streamed search's scored rows are its live rows.
 */
static bool
next_unordered(Search *search, ItemPointer tid)
{
	int64		end = search->view ? search->row_count : search->scored_count;

	while (search->unordered_returned < end)
	{
		int64		i = search->unordered_returned++;

		if (search->view == NULL)
		{
			*tid = *row_tid(search, search->scored[i].row);
			return true;
		}
		if (!row_is_dead(search, i))
		{
			*tid = *row_tid(search, i);
			return true;
		}
	}
	return next_null(search, tid);
}

static bool
next_ordered(Search *search, ItemPointer tid, double *distance, bool *distance_isnull)
{
	for (;;)
	{
		bool		exhausted = search->row_count == 0 || search->source->exhausted(search);

		settle_deferred(search);
		if (search->ready.count > 0 &&
			(exhausted ||
			 float8_order(search->ready.items[0].distance, search->pulled_max - search->margin) < 0))
		{
			ScoredRow	next = scored_heap_pop(&search->ready);

			*tid = *row_tid(search, next.row);
			*distance = next.distance;
			*distance_isnull = false;
			return true;
		}
		if (exhausted)
			break;
		CHECK_FOR_INTERRUPTS();
		search->source->pull(search);
	}
	*distance_isnull = true;
	return next_null(search, tid);
}

/* The next row in distance order; false when every row was returned. */
bool
search_next(Search *search, ItemPointer tid, double *distance, bool *distance_isnull)
{
	instr_time	start;
	bool		found;
	double		call_ms;

	INSTR_TIME_SET_CURRENT(start);
	*distance = 0.0;
	*distance_isnull = true;
	if (!search_is_ordered(search))
		found = next_unordered(search, tid);
	else
		found = next_ordered(search, tid, distance, distance_isnull);
	call_ms = ms_since(start);
	search->elapsed_ms += call_ms;
	if (search->rows_returned > 0)
		search->after_first_ms += call_ms;
	if (found && search->rows_returned++ == 0)
		INSTR_TIME_SET_CURRENT(search->first_returned);
	return found;
}

/* Count the search in hybridsearch_stats by the path that served it. */
void
search_end(Search *search)
{
	/*
	 * Where a scan's time goes besides its requests (doc/gpu-kernels.md),
	 * for log_min_messages = debug1: "between rows" is the executor's time
	 * from the first row returned to the scan's end less the search's own,
	 * its heap fetches, projections and sending of rows.
	 */
	if (search->rows_returned > 0 && message_level_is_interesting(DEBUG1))
		elog(DEBUG1, "hybridsearch scan: set-up %.3f ms, in the search %.3f ms, "
			 "the executor between rows %.3f ms, %lld rows, %lld scored after a pass",
			 search->begin_ms, search->elapsed_ms,
			 ms_since(search->first_returned) - search->after_first_ms,
			 (long long) search->rows_returned, (long long) search->rescored);
	scan_stats_record(RelationGetRelid(search->index),
					  search->used_gpu ? SCAN_PATH_GPU : search->source->path,
					  search->elapsed_ms);
}

/* A query of dim ones, of the index's type (vector or halfvec). */
static Datum
ones_query(ElementKind kind, int dim)
{
	Vector	   *vec;
	HalfVector *half;

	if (kind != KIND_HALF)
	{
		vec = vector_new(dim);
		for (int i = 0; i < dim; i++)
			vec->x[i] = 1.0f;
		return PointerGetDatum(vec);
	}
	half = halfvec_new(dim);
	for (int i = 0; i < dim; i++)
		half->x[i] = halfvec_from_float(1.0f);
	return PointerGetDatum(half);
}

/*
 * Load what a scan of index would use, by running one search (for a
 * vector of ones): the shared copy and, where scans would take the GPU, the GPU
 * worker's copy.  Returns the rows of the shared copy, -1 when the index
 * is streamed (no copy fits, or a bit or sparsevec index, which never has
 * one).  Not counted in hybridsearch_stats.
 */
int64
search_prewarm(Relation index)
{
	ElementKind kind = hybrid_index_kind(index);
	HybridMetaPageData meta;
	MemoryContext context;
	MemoryContext old;
	ScanKeyData orderby;
	Search	   *search;
	ItemPointerData tid;
	double		distance;
	bool		isnull;
	int64		rows;

	if (!hybrid_kind_is_dense(kind))
		return -1;
	meta = hybrid_read_meta(index);
	context = AllocSetContextCreate(CurrentMemoryContext, "hybrid prewarm", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(context);
	memset(&orderby, 0, sizeof(orderby));
	orderby.sk_argument = ones_query(kind, Max(meta.dim, 1));
	if (meta.dim == 0)
		orderby.sk_flags = SK_ISNULL;	/* nothing to search: load the copy alone */
	search = search_begin(index, &orderby);
	if (search->view != NULL && search->source == &gpu_source)
		(void) search_next(search, &tid, &distance, &isnull);
	rows = search->view ? search->view->rows : -1;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(context);
	return rows;
}
