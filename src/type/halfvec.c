/*
 * halfvec.c
 *	  The halfvec type: text and binary I/O, type modifier, casts.
 *
 * halfvec shares vector's text, binary and typmod forms (vector_parse.c)
 * and its messages, with "halfvec" in them; elements are read as float4
 * and rounded to the nearest half, and one that rounds to infinity is out
 * of range, as in pgvector.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"

#include "type/halfvec.h"
#include "type/vector.h"

PG_FUNCTION_INFO_V1(halfvec_in);
PG_FUNCTION_INFO_V1(halfvec_out);
PG_FUNCTION_INFO_V1(halfvec_typmod_in);
PG_FUNCTION_INFO_V1(halfvec_recv);
PG_FUNCTION_INFO_V1(halfvec_send);
PG_FUNCTION_INFO_V1(halfvec);
PG_FUNCTION_INFO_V1(array_to_halfvec);
PG_FUNCTION_INFO_V1(halfvec_to_float4);
PG_FUNCTION_INFO_V1(vector_to_halfvec);
PG_FUNCTION_INFO_V1(halfvec_to_vector);

/* Allocate a zeroed halfvec of dim dimensions. */
HalfVector *
halfvec_new(int dim)
{
	Size		size = HALFVEC_SIZE(dim);
	HalfVector *result = (HalfVector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

/* The elements as float4 (exact), in a palloc'd array. */
float *
halfvec_to_floats(const HalfVector *vec)
{
	float	   *values = palloc(sizeof(float) * Max(vec->dim, 1));

	half_row_to_float(vec->x, 1.0f, values, vec->dim);
	return values;
}

/*
 * The half nearest value; a finite value that rounds to infinity is an
 * error that quotes it, as pgvector's Float4ToHalf does.  NaN and infinity
 * pass through, for halfvec_check_element() to reject.
 */
half
halfvec_from_float(float value)
{
	half		result = float_to_half(value);

	if (!isinf(value) && fabsf(value) >= HALF_OVERFLOW_AT)
	{
		char		buf[FLOAT_SHORTEST_DECIMAL_LEN];

		float_to_shortest_decimal_buf(value, buf);
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%s\" is out of range for type halfvec", buf)));
	}
	return result;
}

static void
report_halfvec_check(VectorError error, int typmod, int dim)
{
	VectorParseResult result = {.error = error, .typmod = typmod, .dim = dim};

	vector_report_error(&result, NULL, "halfvec");
}

void
halfvec_check_dim_limit(int dim)
{
	report_halfvec_check(vector_dim_error(dim), -1, dim);
}

void
halfvec_check_typmod_dim(int typmod, int dim)
{
	report_halfvec_check(vector_typmod_dim_error(typmod, dim), typmod, dim);
}

void
halfvec_check_element(half value)
{
	report_halfvec_check(vector_element_error(half_to_float(value)), -1, 0);
}

Datum
halfvec_in(PG_FUNCTION_ARGS)
{
	const char *literal = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	float	   *values = palloc(sizeof(float) * VECTOR_MAX_DIM);
	VectorParseResult parsed;
	HalfVector *result;

	vector_parse_text_bounded(literal, typmod, HALF_OVERFLOW_AT, values, &parsed);
	vector_report_error(&parsed, literal, "halfvec");
	result = halfvec_new(parsed.dim);
	for (int i = 0; i < parsed.dim; i++)
		result->x[i] = float_to_half(values[i]);
	pfree(values);
	PG_RETURN_HALFVEC_P(result);
}

/* Each element in the shortest text that reads back to its float4 value. */
Datum
halfvec_out(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	float	   *values = halfvec_to_floats(vec);
	char	   *buf = palloc(VECTOR_TEXT_MAX_LEN(vec->dim));

	vector_format_text(values, vec->dim, buf);
	pfree(values);
	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_CSTRING(buf);
}

Datum
halfvec_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(vector_typmod_from_array(PG_GETARG_ARRAYTYPE_P(0), "halfvec"));
}

/* Binary input: int16 dim, int16 unused (0), fp16 values, network order. */
Datum
halfvec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	const unsigned char *data = (const unsigned char *) buf->data + buf->cursor;
	size_t		len = buf->len - buf->cursor;
	VectorParseResult parsed;
	HalfVector *result;

	vector_parse_binary_header(data, len, typmod, &parsed);
	vector_report_error(&parsed, NULL, "halfvec");
	result = halfvec_new(parsed.dim);
	vector_parse_binary_half_values(data, len, result->x, &parsed);
	vector_report_error(&parsed, NULL, "halfvec");
	buf->cursor += parsed.consumed;
	PG_RETURN_HALFVEC_P(result);
}

Datum
halfvec_send(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, vec->dim);
	pq_sendint16(&buf, vec->unused);
	for (int i = 0; i < vec->dim; i++)
		pq_sendint16(&buf, vec->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Cast halfvec to halfvec(n): checks the length, never truncates. */
Datum
halfvec(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);

	halfvec_check_typmod_dim(PG_GETARG_INT32(1), vec->dim);
	PG_RETURN_HALFVEC_P(vec);
}

/*
 * halfvec of count float4 values, after the dimension checks; every
 * element is rounded (a finite one that overflows is an error) before any
 * is checked for NaN and infinity, in pgvector's order.
 */
static HalfVector *
halfvec_from_floats(const float *values, int count, int32 typmod)
{
	HalfVector *result;

	halfvec_check_dim_limit(count);
	halfvec_check_typmod_dim(typmod, count);
	result = halfvec_new(count);
	for (int i = 0; i < count; i++)
		result->x[i] = halfvec_from_float(values[i]);
	for (int i = 0; i < count; i++)
		halfvec_check_element(result->x[i]);
	return result;
}

/* Cast integer[], real[], double precision[] or numeric[] to halfvec. */
Datum
array_to_halfvec(PG_FUNCTION_ARGS)
{
	int			count;
	float	   *values = vector_array_to_floats(PG_GETARG_ARRAYTYPE_P(0), &count);

	PG_RETURN_HALFVEC_P(halfvec_from_floats(values, count, PG_GETARG_INT32(1)));
}

Datum
vector_to_halfvec(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);

	PG_RETURN_HALFVEC_P(halfvec_from_floats(vec->x, vec->dim, PG_GETARG_INT32(1)));
}

Datum
halfvec_to_vector(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Vector	   *result;

	vector_check_dim_limit(vec->dim);
	vector_check_typmod_dim(typmod, vec->dim);
	result = vector_new(vec->dim);
	half_row_to_float(vec->x, 1.0f, result->x, vec->dim);
	PG_RETURN_VECTOR_P(result);
}

Datum
halfvec_to_float4(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	Datum	   *elements = palloc(sizeof(Datum) * Max(vec->dim, 1));
	ArrayType  *result;

	for (int i = 0; i < vec->dim; i++)
		elements[i] = Float4GetDatum(half_to_float(vec->x[i]));
	result = construct_array(elements, vec->dim, FLOAT4OID,
							 sizeof(float4), true, TYPALIGN_INT);
	pfree(elements);
	PG_RETURN_POINTER(result);
}
