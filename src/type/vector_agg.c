/*
 * vector_agg.c
 *	  avg(vector) and avg(halfvec): transition, combine (for parallel
 *	  aggregation, shared by both) and final functions.  sum() needs none
 *	  of its own: it is vector_add or halfvec_add.
 *
 * The state is a float8[] holding the row count followed by the running
 * sums in double precision: {n, s1, ..., sd}.  The initial state is {0}.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/float.h"

#include "type/halfvec.h"
#include "type/vector.h"

PG_FUNCTION_INFO_V1(vector_accum);
PG_FUNCTION_INFO_V1(vector_combine);
PG_FUNCTION_INFO_V1(vector_avg);
PG_FUNCTION_INFO_V1(halfvec_accum);
PG_FUNCTION_INFO_V1(halfvec_avg);

/* caller names the SQL function in the message, as pgvector does */
static float8 *
state_values(ArrayType *state, int *count, const char *caller)
{
	if (ARR_NDIM(state) != 1 || ARR_HASNULL(state) ||
		ARR_ELEMTYPE(state) != FLOAT8OID || ARR_DIMS(state)[0] < 1)
		elog(ERROR, "%s: expected state array", caller);
	*count = ARR_DIMS(state)[0];
	/* no null bitmap (checked above), so the data follows the fixed header */
	return (float8 *) ((char *) state + ARR_OVERHEAD_NONULLS(1));
}

static ArrayType *
state_new(int dim)
{
	Datum	   *zeros = palloc(sizeof(Datum) * (dim + 1));
	ArrayType  *result;

	/*
	 * The sums start at -0, the identity of addition: the first value added
	 * is kept as it is, -0 included, as pgvector keeps the first vector.
	 */
	zeros[0] = Float8GetDatum(0.0);
	for (int i = 1; i <= dim; i++)
		zeros[i] = Float8GetDatum(-0.0);
	result = construct_array(zeros, dim + 1, FLOAT8OID, sizeof(float8),
							 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(zeros);
	return result;
}

static void
check_sum(double value)
{
	if (isinf(value))
		float_overflow_error();
}

/*
 * The state may be updated in place only when called as an aggregate; a
 * direct SQL call must not modify its argument.
 */
static ArrayType *
writable_state(FunctionCallInfo fcinfo, int dim, const char *caller)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			count;
	float8	   *values = state_values(state, &count, caller);

	/* a state without sums (the initial {0}) gets dim of them */
	if (count == 1)
	{
		MemoryContext aggcontext;
		MemoryContext old;
		float8		rows = values[0];

		if (!AggCheckCallContext(fcinfo, &aggcontext))
			aggcontext = CurrentMemoryContext;
		old = MemoryContextSwitchTo(aggcontext);
		state = state_new(dim);
		MemoryContextSwitchTo(old);
		state_values(state, &count, caller)[0] = rows;
	}
	else if (!AggCheckCallContext(fcinfo, NULL))
		state = PG_GETARG_ARRAYTYPE_P_COPY(0);

	state_values(state, &count, caller);
	vector_check_typmod_dim(count - 1, dim);
	return state;
}

/* Add the dim values x to the state (argument 0) as the row caller saw. */
static ArrayType *
accumulate(FunctionCallInfo fcinfo, const float *x, int dim, const char *caller)
{
	ArrayType  *state = writable_state(fcinfo, dim, caller);
	int			count;
	float8	   *values = state_values(state, &count, caller);

	values[0] += 1.0;
	for (int i = 0; i < dim; i++)
	{
		values[i + 1] += (double) x[i];
		check_sum(values[i + 1]);
	}
	return state;
}

Datum
vector_accum(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(1);

	PG_RETURN_ARRAYTYPE_P(accumulate(fcinfo, vec->x, vec->dim, "vector_accum"));
}

Datum
halfvec_accum(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(1);
	float	   *x = halfvec_to_floats(vec);
	ArrayType  *state = accumulate(fcinfo, x, vec->dim, "halfvec_accum");

	pfree(x);
	PG_RETURN_ARRAYTYPE_P(state);
}

/*
 * Combine two states (avg(vector) and avg(halfvec) share it), as pgvector
 * does: a state without sums takes the other's; two states with sums must
 * have as many, which must be a possible dimension count.  The result is a
 * new array, so neither argument is modified.
 */
Datum
vector_combine(PG_FUNCTION_ARGS)
{
	int			count1;
	int			count2;
	float8	   *values1 = state_values(PG_GETARG_ARRAYTYPE_P(0), &count1, "vector_combine");
	float8	   *values2 = state_values(PG_GETARG_ARRAYTYPE_P(1), &count2, "vector_combine");
	int			dim = Max(count1, count2) - 1;
	Datum	   *sums;
	ArrayType  *result;

	if (count1 > 1 && count2 > 1)
	{
		vector_check_dim_limit(count1 - 1);
		vector_check_typmod_dim(count1 - 1, count2 - 1);
	}
	else if (dim > 0)
		vector_check_dim_limit(dim);

	sums = palloc(sizeof(Datum) * (dim + 1));
	sums[0] = Float8GetDatum(values1[0] + values2[0]);
	for (int i = 1; i <= dim; i++)
	{
		double		sum;

		if (count1 == 1)
			sum = values2[i];
		else if (count2 == 1)
			sum = values1[i];
		else
		{
			sum = values1[i] + values2[i];
			check_sum(sum);
		}
		sums[i] = Float8GetDatum(sum);
	}
	result = construct_array(sums, dim + 1, FLOAT8OID, sizeof(float8),
							 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(sums);
	PG_RETURN_ARRAYTYPE_P(result);
}

Datum
vector_avg(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			count;
	float8	   *values = state_values(state, &count, "vector_avg");
	Vector	   *result;

	if (values[0] == 0.0)
		PG_RETURN_NULL();

	/* a state with rows but no sums (or too many) is no vector */
	vector_check_dim_limit(count - 1);
	result = vector_new(count - 1);
	for (int i = 1; i < count; i++)
	{
		result->x[i - 1] = values[i] / values[0];
		vector_check_element(result->x[i - 1]);
	}
	PG_RETURN_VECTOR_P(result);
}

Datum
halfvec_avg(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			count;
	float8	   *values = state_values(state, &count, "halfvec_avg");
	HalfVector *result;

	if (values[0] == 0.0)
		PG_RETURN_NULL();

	halfvec_check_dim_limit(count - 1);
	result = halfvec_new(count - 1);
	for (int i = 1; i < count; i++)
	{
		result->x[i - 1] = halfvec_from_float((float) (values[i] / values[0]));
		halfvec_check_element(result->x[i - 1]);
	}
	PG_RETURN_HALFVEC_P(result);
}
