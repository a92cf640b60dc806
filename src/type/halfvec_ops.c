/*
 * halfvec_ops.c
 *	  SQL functions and operators on halfvecs: distances, norms,
 *	  element-wise arithmetic, concatenation, subvector and comparison.
 *
 * Distances convert both operands to float4 (exactly) and run the same
 * kernels as vector's operators, accumulating in float4 as pgvector does.
 * Results of arithmetic are rounded back to half; one that overflows half
 * is an error, never a stored infinity.
 */
#include "postgres.h"

#include <math.h>

#include "utils/float.h"

#include "type/distance.h"
#include "type/distance_arg.h"
#include "type/halfvec.h"
#include "type/vector.h"

PG_FUNCTION_INFO_V1(halfvec_l2_distance);
PG_FUNCTION_INFO_V1(halfvec_l2_squared_distance);
PG_FUNCTION_INFO_V1(halfvec_inner_product);
PG_FUNCTION_INFO_V1(halfvec_negative_inner_product);
PG_FUNCTION_INFO_V1(halfvec_cosine_distance);
PG_FUNCTION_INFO_V1(halfvec_spherical_distance);
PG_FUNCTION_INFO_V1(halfvec_l1_distance);
PG_FUNCTION_INFO_V1(halfvec_vector_dims);
PG_FUNCTION_INFO_V1(halfvec_l2_norm);
PG_FUNCTION_INFO_V1(halfvec_l2_normalize);
PG_FUNCTION_INFO_V1(halfvec_subvector);
PG_FUNCTION_INFO_V1(halfvec_add);
PG_FUNCTION_INFO_V1(halfvec_sub);
PG_FUNCTION_INFO_V1(halfvec_mul);
PG_FUNCTION_INFO_V1(halfvec_concat);
PG_FUNCTION_INFO_V1(halfvec_lt);
PG_FUNCTION_INFO_V1(halfvec_le);
PG_FUNCTION_INFO_V1(halfvec_eq);
PG_FUNCTION_INFO_V1(halfvec_ne);
PG_FUNCTION_INFO_V1(halfvec_ge);
PG_FUNCTION_INFO_V1(halfvec_gt);
PG_FUNCTION_INFO_V1(halfvec_cmp);

static void
check_same_dims(const HalfVector *a, const HalfVector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different halfvec dimensions %d and %d", a->dim, b->dim)));
}

/* helper(a, b, n) over the float4 values of two halfvecs of equal length */
static double
float_distance(FunctionCallInfo fcinfo,
			   double (*helper) (const float *a, const float *b, int n))
{
	HalfVector *a = (HalfVector *) distance_arg(fcinfo, 0);
	HalfVector *b = (HalfVector *) distance_arg(fcinfo, 1);
	float	   *ax;
	float	   *bx;
	double		result;

	check_same_dims(a, b);
	ax = halfvec_to_floats(a);
	bx = halfvec_to_floats(b);
	result = helper(ax, bx, a->dim);
	pfree(ax);
	pfree(bx);
	return result;
}

static double
l2_squared(const float *a, const float *b, int n)
{
	return (double) distance_kernels->l2_squared(a, b, n);
}

static double
spherical(const float *a, const float *b, int n)
{
	return spherical_from_dot(distance_inner_product(a, b, n));
}

#define HALFVEC_DISTANCE(NAME, HELPER) \
Datum \
NAME(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_FLOAT8(float_distance(fcinfo, HELPER)); \
}

HALFVEC_DISTANCE(halfvec_l2_distance, distance_l2)
HALFVEC_DISTANCE(halfvec_l2_squared_distance, l2_squared)
HALFVEC_DISTANCE(halfvec_inner_product, distance_inner_product)
HALFVEC_DISTANCE(halfvec_negative_inner_product, distance_negative_inner_product)
HALFVEC_DISTANCE(halfvec_cosine_distance, distance_cosine)
HALFVEC_DISTANCE(halfvec_spherical_distance, spherical)
HALFVEC_DISTANCE(halfvec_l1_distance, distance_l1)

Datum
halfvec_vector_dims(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_HALFVEC_P(0)->dim);
}

static double
euclidean_norm(const HalfVector *a)
{
	double		sum = 0.0;

	for (int i = 0; i < a->dim; i++)
	{
		double		x = half_to_float(a->x[i]);

		sum += x * x;
	}
	return sqrt(sum);
}

Datum
halfvec_l2_norm(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(euclidean_norm(PG_GETARG_HALFVEC_P(0)));
}

/* Unit-length copy; the zero vector stays zero, as in pgvector. */
Datum
halfvec_l2_normalize(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *result = halfvec_new(a->dim);
	double		norm = euclidean_norm(a);

	if (norm > 0)
	{
		for (int i = 0; i < a->dim; i++)
		{
			float		value = (float) (half_to_float(a->x[i]) / norm);

			if (fabsf(value) >= HALF_OVERFLOW_AT)
				float_overflow_error();
			result->x[i] = float_to_half(value);
		}
	}
	PG_RETURN_HALFVEC_P(result);
}

Datum
halfvec_subvector(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	int			first = 0;
	int			count = subvector_range(a->dim, PG_GETARG_INT32(1),
										PG_GETARG_INT32(2), &first);
	HalfVector *result;

	halfvec_check_dim_limit(count);
	result = halfvec_new(count);
	memcpy(result->x, a->x + first, sizeof(half) * count);
	PG_RETURN_HALFVEC_P(result);
}

/*
 * Element-wise arithmetic in float4, rounded to half; a result beyond
 * half's range (or a product that underflows to zero) is an error.
 */
static HalfVector *
elementwise(const HalfVector *a, const HalfVector *b, ElementwiseOp op)
{
	HalfVector *result;

	check_same_dims(a, b);
	result = halfvec_new(a->dim);
	for (int i = 0; i < a->dim; i++)
	{
		float		x = half_to_float(a->x[i]);
		float		y = half_to_float(b->x[i]);
		half		value = float_to_half(elementwise_value(x, y, op));

		if ((value & 0x7fff) == 0x7c00)
			float_overflow_error();
		if (op == ELEMENTWISE_MUL && (value & 0x7fff) == 0 &&
			x != 0.0f && y != 0.0f)
			float_underflow_error();
		result->x[i] = value;
	}
	return result;
}

Datum
halfvec_add(PG_FUNCTION_ARGS)
{
	PG_RETURN_HALFVEC_P(elementwise(PG_GETARG_HALFVEC_P(0), PG_GETARG_HALFVEC_P(1),
									ELEMENTWISE_ADD));
}

Datum
halfvec_sub(PG_FUNCTION_ARGS)
{
	PG_RETURN_HALFVEC_P(elementwise(PG_GETARG_HALFVEC_P(0), PG_GETARG_HALFVEC_P(1),
									ELEMENTWISE_SUB));
}

Datum
halfvec_mul(PG_FUNCTION_ARGS)
{
	PG_RETURN_HALFVEC_P(elementwise(PG_GETARG_HALFVEC_P(0), PG_GETARG_HALFVEC_P(1),
									ELEMENTWISE_MUL));
}

Datum
halfvec_concat(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);
	HalfVector *result;

	halfvec_check_dim_limit(a->dim + b->dim);
	result = halfvec_new(a->dim + b->dim);
	memcpy(result->x, a->x, sizeof(half) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(half) * b->dim);
	PG_RETURN_HALFVEC_P(result);
}

static float
halfvec_element(const void *v, int i)
{
	return half_to_float(((const HalfVector *) v)->x[i]);
}

static int
halfvec_compare(const HalfVector *a, const HalfVector *b)
{
	return compare_elements(a, a->dim, b, b->dim, halfvec_element);
}

#define COMPARISON_FUNCTION(NAME, TEST) \
Datum \
NAME(PG_FUNCTION_ARGS) \
{ \
	int			cmp = halfvec_compare(PG_GETARG_HALFVEC_P(0), PG_GETARG_HALFVEC_P(1)); \
	PG_RETURN_BOOL(TEST); \
}

COMPARISON_FUNCTION(halfvec_lt, cmp < 0)
COMPARISON_FUNCTION(halfvec_le, cmp <= 0)
COMPARISON_FUNCTION(halfvec_eq, cmp == 0)
COMPARISON_FUNCTION(halfvec_ne, cmp != 0)
COMPARISON_FUNCTION(halfvec_ge, cmp >= 0)
COMPARISON_FUNCTION(halfvec_gt, cmp > 0)

Datum
halfvec_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(halfvec_compare(PG_GETARG_HALFVEC_P(0), PG_GETARG_HALFVEC_P(1)));
}
