/*
 * vector_ops.c
 *	  SQL functions and operators on vectors: distances, norms,
 *	  element-wise arithmetic, concatenation, subvector and comparison.
 */
#include "postgres.h"

#include <math.h>

#include "utils/float.h"

#include "type/distance.h"
#include "type/distance_arg.h"
#include "type/vector.h"

PG_FUNCTION_INFO_V1(l2_distance);
PG_FUNCTION_INFO_V1(inner_product);
PG_FUNCTION_INFO_V1(vector_negative_inner_product);
PG_FUNCTION_INFO_V1(cosine_distance);
PG_FUNCTION_INFO_V1(l1_distance);
PG_FUNCTION_INFO_V1(vector_dims);
PG_FUNCTION_INFO_V1(vector_norm);
PG_FUNCTION_INFO_V1(l2_normalize);
PG_FUNCTION_INFO_V1(subvector);
PG_FUNCTION_INFO_V1(vector_add);
PG_FUNCTION_INFO_V1(vector_sub);
PG_FUNCTION_INFO_V1(vector_mul);
PG_FUNCTION_INFO_V1(vector_concat);
PG_FUNCTION_INFO_V1(vector_lt);
PG_FUNCTION_INFO_V1(vector_le);
PG_FUNCTION_INFO_V1(vector_eq);
PG_FUNCTION_INFO_V1(vector_ne);
PG_FUNCTION_INFO_V1(vector_ge);
PG_FUNCTION_INFO_V1(vector_gt);
PG_FUNCTION_INFO_V1(vector_cmp);
PG_FUNCTION_INFO_V1(vector_l2_squared_distance);
PG_FUNCTION_INFO_V1(vector_spherical_distance);

/*
 * DISTANCE_FUNCTION(name, helper) defines a SQL distance function that
 * checks dimensions and calls the shared helper, so the operator and the
 * index's re-scoring compute the very same bits.
 */
#define DISTANCE_FUNCTION(NAME, HELPER) \
Datum \
NAME(PG_FUNCTION_ARGS) \
{ \
	Vector	   *a = (Vector *) distance_arg(fcinfo, 0); \
	Vector	   *b = (Vector *) distance_arg(fcinfo, 1); \
	vector_check_same_dims(a, b); \
	PG_RETURN_FLOAT8(HELPER(a->x, b->x, a->dim)); \
}

DISTANCE_FUNCTION(l2_distance, distance_l2)
DISTANCE_FUNCTION(inner_product, distance_inner_product)
DISTANCE_FUNCTION(vector_negative_inner_product, distance_negative_inner_product)
DISTANCE_FUNCTION(cosine_distance, distance_cosine)
DISTANCE_FUNCTION(l1_distance, distance_l1)

Datum
vector_l2_squared_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = (Vector *) distance_arg(fcinfo, 0);
	Vector	   *b = (Vector *) distance_arg(fcinfo, 1);

	vector_check_same_dims(a, b);
	PG_RETURN_FLOAT8((double) distance_kernels->l2_squared(a->x, b->x, a->dim));
}

/*
 * Angular distance of unit vectors, acos(a . b) / pi, the inner product
 * clamped to [-1, 1] against rounding (pgvector's spherical k-means
 * distance).
 */
double
spherical_from_dot(double dot)
{
	if (dot > 1.0)
		dot = 1.0;
	else if (dot < -1.0)
		dot = -1.0;
	return acos(dot) / M_PI;
}

Datum
vector_spherical_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = (Vector *) distance_arg(fcinfo, 0);
	Vector	   *b = (Vector *) distance_arg(fcinfo, 1);

	vector_check_same_dims(a, b);
	PG_RETURN_FLOAT8(spherical_from_dot(distance_inner_product(a->x, b->x, a->dim)));
}

Datum
vector_dims(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT32(a->dim);
}

static double
euclidean_norm(const Vector *a)
{
	double		sum = 0.0;

	for (int i = 0; i < a->dim; i++)
		sum += (double) a->x[i] * (double) a->x[i];
	return sqrt(sum);
}

Datum
vector_norm(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_FLOAT8(euclidean_norm(a));
}

/* Unit-length copy; the zero vector stays zero, as in pgvector. */
Datum
l2_normalize(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *result = vector_new(a->dim);
	double		norm = euclidean_norm(a);

	if (norm > 0)
	{
		for (int i = 0; i < a->dim; i++)
		{
			result->x[i] = a->x[i] / norm;
			if (isinf(result->x[i]))
				float_overflow_error();
		}
	}
	PG_RETURN_VECTOR_P(result);
}

/*
 * The elements subvector(v, start, count) takes from a vector of dim
 * elements: count from 1-based position start, clipped to the vector like
 * substring().  Returns the count, 0 when nothing is left (an error for
 * the caller); *first is the 0-based first element.
 */
int
subvector_range(int dim, int32 start, int32 count, int *first)
{
	int32		end;

	if (count < 1)
		return 0;
	/* start + count > dim, written so it cannot overflow */
	if (start > dim - count)
		end = dim + 1;
	else
		end = start + count;
	if (start < 1)
		start = 1;
	else if (start > dim)
		return 0;
	*first = start - 1;
	return Max(end - start, 0);
}

Datum
subvector(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	int			first = 0;
	int			count = subvector_range(a->dim, PG_GETARG_INT32(1),
										PG_GETARG_INT32(2), &first);
	Vector	   *result;

	vector_check_dim_limit(count);
	result = vector_new(count);
	memcpy(result->x, a->x + first, sizeof(float) * count);
	PG_RETURN_VECTOR_P(result);
}

/* One element of a + b, a - b or a * b, in float4. */
float
elementwise_value(float a, float b, ElementwiseOp op)
{
	if (op == ELEMENTWISE_ADD)
		return a + b;
	if (op == ELEMENTWISE_SUB)
		return a - b;
	return a * b;
}

/*
 * Element-wise arithmetic; a result that overflows float4 (or a product
 * that underflows to zero) is an error, never a stored Infinity.
 */
static Vector *
elementwise(const Vector *a, const Vector *b, ElementwiseOp op)
{
	Vector	   *result;

	vector_check_same_dims(a, b);
	result = vector_new(a->dim);
	for (int i = 0; i < a->dim; i++)
	{
		float		value = elementwise_value(a->x[i], b->x[i], op);

		if (op == ELEMENTWISE_MUL && value == 0.0f &&
			a->x[i] != 0.0f && b->x[i] != 0.0f)
			float_underflow_error();
		if (isinf(value))
			float_overflow_error();
		result->x[i] = value;
	}
	return result;
}

Datum
vector_add(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(elementwise(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1),
								   ELEMENTWISE_ADD));
}

Datum
vector_sub(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(elementwise(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1),
								   ELEMENTWISE_SUB));
}

Datum
vector_mul(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(elementwise(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1),
								   ELEMENTWISE_MUL));
}

Datum
vector_concat(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *result;

	vector_check_dim_limit(a->dim + b->dim);
	result = vector_new(a->dim + b->dim);
	memcpy(result->x, a->x, sizeof(float) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(float) * b->dim);
	PG_RETURN_VECTOR_P(result);
}

/*
 * Total order for btree: element by element, then the shorter vector
 * first, so vectors of different lengths compare without an error.
 * element(v, i) gives element i of v as float4.
 */
int
compare_elements(const void *a, int a_dim, const void *b, int b_dim,
				 float (*element) (const void *v, int i))
{
	int			common = Min(a_dim, b_dim);

	for (int i = 0; i < common; i++)
	{
		float		x = element(a, i);
		float		y = element(b, i);

		if (x < y)
			return -1;
		if (x > y)
			return 1;
	}
	if (a_dim != b_dim)
		return a_dim < b_dim ? -1 : 1;
	return 0;
}

static float
vector_element(const void *v, int i)
{
	return ((const Vector *) v)->x[i];
}

static int
vector_compare(const Vector *a, const Vector *b)
{
	return compare_elements(a, a->dim, b, b->dim, vector_element);
}

#define COMPARISON_FUNCTION(NAME, TEST) \
Datum \
NAME(PG_FUNCTION_ARGS) \
{ \
	int			cmp = vector_compare(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1)); \
	PG_RETURN_BOOL(TEST); \
}

COMPARISON_FUNCTION(vector_lt, cmp < 0)
COMPARISON_FUNCTION(vector_le, cmp <= 0)
COMPARISON_FUNCTION(vector_eq, cmp == 0)
COMPARISON_FUNCTION(vector_ne, cmp != 0)
COMPARISON_FUNCTION(vector_ge, cmp >= 0)
COMPARISON_FUNCTION(vector_gt, cmp > 0)

Datum
vector_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(vector_compare(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1)));
}
