/*
 * sparsevec_ops.c
 *	  SQL functions and operators on sparsevecs: distances, norm,
 *	  normalization and comparison.
 *
 * Distances walk both index lists in step, adding one float4 term per
 * index present in either, in index order: the same sums, term for term,
 * as pgvector.
 */
#include "postgres.h"

#include <math.h>

#include "utils/float.h"

#include "type/distance_arg.h"
#include "type/sparsevec.h"

PG_FUNCTION_INFO_V1(sparsevec_l2_distance);
PG_FUNCTION_INFO_V1(sparsevec_l2_squared_distance);
PG_FUNCTION_INFO_V1(sparsevec_inner_product);
PG_FUNCTION_INFO_V1(sparsevec_negative_inner_product);
PG_FUNCTION_INFO_V1(sparsevec_cosine_distance);
PG_FUNCTION_INFO_V1(sparsevec_l1_distance);
PG_FUNCTION_INFO_V1(sparsevec_l2_norm);
PG_FUNCTION_INFO_V1(sparsevec_l2_normalize);
PG_FUNCTION_INFO_V1(sparsevec_lt);
PG_FUNCTION_INFO_V1(sparsevec_le);
PG_FUNCTION_INFO_V1(sparsevec_eq);
PG_FUNCTION_INFO_V1(sparsevec_ne);
PG_FUNCTION_INFO_V1(sparsevec_ge);
PG_FUNCTION_INFO_V1(sparsevec_gt);
PG_FUNCTION_INFO_V1(sparsevec_cmp);

typedef enum SparseMetric
{
	SPARSE_L2_SQUARED,
	SPARSE_DOT,
	SPARSE_L1
} SparseMetric;

static void
check_same_dims(const SparseVector *a, const SparseVector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different sparsevec dimensions %d and %d", a->dim, b->dim)));
}

/* The term one index adds: x and y are the two elements there (0 if absent). */
static inline float
term(float x, float y, SparseMetric metric)
{
	if (metric == SPARSE_L2_SQUARED)
		return (x - y) * (x - y);
	if (metric == SPARSE_DOT)
		return x * y;
	return fabsf(x - y);
}

/* Sum of the metric's terms over the indices present in a or b. */
static float
merged_sum(const SparseVector *a, const SparseVector *b, SparseMetric metric)
{
	const float *ax = SPARSEVEC_VALUES(a);
	const float *bx = SPARSEVEC_VALUES(b);
	float		sum = 0.0f;
	int			i = 0;
	int			j = 0;

	while (i < a->nnz || j < b->nnz)
	{
		if (j == b->nnz || (i < a->nnz && a->indices[i] < b->indices[j]))
		{
			if (metric != SPARSE_DOT)
				sum += term(ax[i], 0.0f, metric);
			i++;
		}
		else if (i == a->nnz || b->indices[j] < a->indices[i])
		{
			if (metric != SPARSE_DOT)
				sum += term(0.0f, bx[j], metric);
			j++;
		}
		else
			sum += term(ax[i++], bx[j++], metric);
	}
	return sum;
}

static float
checked_sum(FunctionCallInfo fcinfo, SparseMetric metric)
{
	SparseVector *a = (SparseVector *) distance_arg(fcinfo, 0);
	SparseVector *b = (SparseVector *) distance_arg(fcinfo, 1);

	check_same_dims(a, b);
	return merged_sum(a, b, metric);
}

Datum
sparsevec_l2_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(sqrt((double) checked_sum(fcinfo, SPARSE_L2_SQUARED)));
}

Datum
sparsevec_l2_squared_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8((double) checked_sum(fcinfo, SPARSE_L2_SQUARED));
}

Datum
sparsevec_inner_product(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8((double) checked_sum(fcinfo, SPARSE_DOT));
}

Datum
sparsevec_negative_inner_product(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(-(double) checked_sum(fcinfo, SPARSE_DOT));
}

Datum
sparsevec_l1_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8((double) checked_sum(fcinfo, SPARSE_L1));
}

/* Sum of squares of the stored values, in float4 as pgvector's cosine. */
static float
squared_norm(const SparseVector *a)
{
	const float *ax = SPARSEVEC_VALUES(a);
	float		sum = 0.0f;

	for (int i = 0; i < a->nnz; i++)
		sum += ax[i] * ax[i];
	return sum;
}

/* 1 - cosine similarity; NaN when either is zero, clamped to [0, 2]. */
Datum
sparsevec_cosine_distance(PG_FUNCTION_ARGS)
{
	SparseVector *a = (SparseVector *) distance_arg(fcinfo, 0);
	SparseVector *b = (SparseVector *) distance_arg(fcinfo, 1);
	double		similarity;

	check_same_dims(a, b);
	similarity = (double) merged_sum(a, b, SPARSE_DOT) /
		sqrt((double) squared_norm(a) * (double) squared_norm(b));
	if (similarity > 1.0)
		similarity = 1.0;
	else if (similarity < -1.0)
		similarity = -1.0;
	PG_RETURN_FLOAT8(1.0 - similarity);
}

static double
euclidean_norm(const SparseVector *a)
{
	const float *ax = SPARSEVEC_VALUES(a);
	double		sum = 0.0;

	for (int i = 0; i < a->nnz; i++)
		sum += (double) ax[i] * (double) ax[i];
	return sqrt(sum);
}

Datum
sparsevec_l2_norm(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(euclidean_norm(PG_GETARG_SPARSEVEC_P(0)));
}

/*
 * Unit-length copy; the zero vector stays zero, and an element that
 * underflows to zero is dropped, as pgvector does.
 */
Datum
sparsevec_l2_normalize(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	const float *ax = SPARSEVEC_VALUES(a);
	double		norm = euclidean_norm(a);
	float	   *scaled = palloc(sizeof(float) * Max(a->nnz, 1));
	int			nnz = 0;
	SparseVector *result;

	for (int i = 0; i < a->nnz && norm > 0; i++)
	{
		scaled[i] = (float) (ax[i] / norm);
		if (isinf(scaled[i]))
			float_overflow_error();
		if (scaled[i] != 0.0f)
			nnz++;
	}
	result = sparsevec_new(a->dim, nnz);
	nnz = 0;
	for (int i = 0; i < a->nnz && norm > 0; i++)
	{
		if (scaled[i] != 0.0f)
		{
			result->indices[nnz] = a->indices[i];
			SPARSEVEC_VALUES(result)[nnz++] = scaled[i];
		}
	}
	pfree(scaled);
	PG_RETURN_SPARSEVEC_P(result);
}

/*
 * pgvector's order: as the dense vectors compare element by element (the
 * first index stored in one but not the other decides by that value's
 * sign), then the shorter vector first.
 */
static int
sparsevec_compare(const SparseVector *a, const SparseVector *b)
{
	const float *ax = SPARSEVEC_VALUES(a);
	const float *bx = SPARSEVEC_VALUES(b);
	int			common = Min(a->nnz, b->nnz);

	for (int i = 0; i < common; i++)
	{
		if (a->indices[i] < b->indices[i])
			return ax[i] < 0 ? -1 : 1;
		if (a->indices[i] > b->indices[i])
			return bx[i] < 0 ? 1 : -1;
		if (ax[i] < bx[i])
			return -1;
		if (ax[i] > bx[i])
			return 1;
	}
	if (a->nnz < b->nnz && b->indices[common] < a->dim)
		return bx[common] < 0 ? 1 : -1;
	if (a->nnz > b->nnz && a->indices[common] < b->dim)
		return ax[common] < 0 ? -1 : 1;
	if (a->dim != b->dim)
		return a->dim < b->dim ? -1 : 1;
	return 0;
}

#define COMPARISON_FUNCTION(NAME, TEST) \
Datum \
NAME(PG_FUNCTION_ARGS) \
{ \
	int			cmp = sparsevec_compare(PG_GETARG_SPARSEVEC_P(0), PG_GETARG_SPARSEVEC_P(1)); \
	PG_RETURN_BOOL(TEST); \
}

COMPARISON_FUNCTION(sparsevec_lt, cmp < 0)
COMPARISON_FUNCTION(sparsevec_le, cmp <= 0)
COMPARISON_FUNCTION(sparsevec_eq, cmp == 0)
COMPARISON_FUNCTION(sparsevec_ne, cmp != 0)
COMPARISON_FUNCTION(sparsevec_ge, cmp >= 0)
COMPARISON_FUNCTION(sparsevec_gt, cmp > 0)

Datum
sparsevec_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(sparsevec_compare(PG_GETARG_SPARSEVEC_P(0), PG_GETARG_SPARSEVEC_P(1)));
}
