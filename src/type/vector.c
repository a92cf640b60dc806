/*
 * vector.c
 *	  The vector type: text and binary I/O, type modifier, casts.
 *
 * Behaviour and messages follow pgvector so that schemas, dumps and client
 * code move over unchanged.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "type/vector.h"

PG_FUNCTION_INFO_V1(vector_in);
PG_FUNCTION_INFO_V1(vector_out);
PG_FUNCTION_INFO_V1(vector_typmod_in);
PG_FUNCTION_INFO_V1(vector_recv);
PG_FUNCTION_INFO_V1(vector_send);
PG_FUNCTION_INFO_V1(vector);
PG_FUNCTION_INFO_V1(array_to_vector);
PG_FUNCTION_INFO_V1(vector_to_float4);

/* Allocate a zeroed vector of dim dimensions. */
Vector *
vector_new(int dim)
{
	Size		size = VECTOR_SIZE(dim);
	Vector	   *result = (Vector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

/*
 * Raise pgvector's error for a failed parse or check of a value of type
 * type_name ("vector" or "halfvec", which share their forms and messages).
 * literal is the text input, for the errors that quote it; NULL for the
 * others.
 */
void
vector_report_error(const VectorParseResult *result, const char *literal,
					const char *type_name)
{
	switch (result->error)
	{
		case VECTOR_OK:
			return;
		case VECTOR_BAD_SYNTAX:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"", type_name, literal)));
		case VECTOR_NO_OPENING_BRACKET:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"", type_name, literal),
					 errdetail("Vector contents must start with \"[\".")));
		case VECTOR_JUNK_AFTER_END:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"", type_name, literal),
					 errdetail("Junk after closing right brace.")));
		case VECTOR_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%s\" is out of range for type %s",
							pnstrdup(literal + result->token_start,
									 result->token_len), type_name)));
		case VECTOR_NAN:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("NaN not allowed in %s", type_name)));
		case VECTOR_INFINITE:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("infinite value not allowed in %s", type_name)));
		case VECTOR_TOO_FEW_DIMS:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s must have at least 1 dimension", type_name)));
		case VECTOR_TOO_MANY_DIMS:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s cannot have more than %d dimensions", type_name, VECTOR_MAX_DIM)));
		case VECTOR_WRONG_DIMS:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected %d dimensions, not %d", result->typmod, result->dim)));
		case VECTOR_UNUSED_NOT_ZERO:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected unused to be 0, not %d", result->unused)));
		case VECTOR_SHORT_DATA:
			/* what pq_getmsgint() and friends raise */
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("insufficient data left in message")));
		case VECTOR_TYPMOD_COUNT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid type modifier")));
		case VECTOR_TYPMOD_TOO_SMALL:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("dimensions for type %s must be at least 1", type_name)));
		case VECTOR_TYPMOD_TOO_LARGE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("dimensions for type %s cannot exceed %d", type_name, VECTOR_MAX_DIM)));
	}
	elog(ERROR, "unexpected vector error %d", (int) result->error);
}

static void
report_vector_error(const VectorParseResult *result, const char *literal)
{
	vector_report_error(result, literal, "vector");
}

/* Raise error, one that needs no details but the dimension counts. */
static void
report_vector_check(VectorError error, int typmod, int dim)
{
	VectorParseResult result = {.error = error, .typmod = typmod, .dim = dim};

	report_vector_error(&result, NULL);
}

void
vector_check_dim_limit(int dim)
{
	report_vector_check(vector_dim_error(dim), -1, dim);
}

void
vector_check_typmod_dim(int typmod, int dim)
{
	report_vector_check(vector_typmod_dim_error(typmod, dim), typmod, dim);
}

void
vector_check_same_dims(const Vector *a, const Vector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", a->dim, b->dim)));
}

void
vector_check_element(float value)
{
	report_vector_check(vector_element_error(value), -1, 0);
}

Datum
vector_in(PG_FUNCTION_ARGS)
{
	const char *literal = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	float	   *values = palloc(sizeof(float) * VECTOR_MAX_DIM);
	VectorParseResult parsed;
	Vector	   *result;

	vector_parse_text(literal, typmod, values, &parsed);
	report_vector_error(&parsed, literal);
	result = vector_new(parsed.dim);
	memcpy(result->x, values, sizeof(float) * parsed.dim);
	pfree(values);
	PG_RETURN_VECTOR_P(result);
}

/* Shortest text that reads back to the same float4, as float4out does. */
Datum
vector_out(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	char	   *buf = palloc(VECTOR_TEXT_MAX_LEN(vec->dim));

	vector_format_text(vec->x, vec->dim, buf);
	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_CSTRING(buf);
}

/* The n of vector(n) or halfvec(n), checked. */
int32
vector_typmod_from_array(ArrayType *modifiers, const char *type_name)
{
	int32	   *values;
	int			count;
	VectorParseResult parsed;

	values = ArrayGetIntegerTypmods(modifiers, &count);
	vector_parse_typmod(values, count, &parsed);
	vector_report_error(&parsed, NULL, type_name);
	return parsed.typmod;
}

Datum
vector_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(vector_typmod_from_array(PG_GETARG_ARRAYTYPE_P(0), "vector"));
}

/* Binary input: int16 dim, int16 unused (0), float4 values, network order. */
Datum
vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	const unsigned char *data = (const unsigned char *) buf->data + buf->cursor;
	size_t		len = buf->len - buf->cursor;
	VectorParseResult parsed;
	Vector	   *result;

	vector_parse_binary_header(data, len, typmod, &parsed);
	report_vector_error(&parsed, NULL);
	result = vector_new(parsed.dim);
	vector_parse_binary_values(data, len, result->x, &parsed);
	report_vector_error(&parsed, NULL);
	buf->cursor += parsed.consumed;
	PG_RETURN_VECTOR_P(result);
}

Datum
vector_send(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, vec->dim);
	pq_sendint16(&buf, vec->unused);
	for (int i = 0; i < vec->dim; i++)
		pq_sendfloat4(&buf, vec->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Cast vector to vector(n): checks the length, never truncates. */
Datum
vector(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	vector_check_typmod_dim(typmod, vec->dim);
	PG_RETURN_VECTOR_P(vec);
}

static float
array_element_to_float(Oid element_type, Datum element)
{
	switch (element_type)
	{
		case INT4OID:
			return (float) DatumGetInt32(element);
		case FLOAT8OID:
			return (float) DatumGetFloat8(element);
		case FLOAT4OID:
			return DatumGetFloat4(element);
		case NUMERICOID:
			return DatumGetFloat4(DirectFunctionCall1(numeric_float4, element));
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("unsupported array type")));
	return 0.0f;				/* keep compiler quiet */
}

/*
 * The elements of a one-dimensional integer[], real[], double precision[]
 * or numeric[] without NULLs, as float4 (no check of their values); the
 * count in *count.  Shared by the casts of arrays to vector and halfvec.
 */
float *
vector_array_to_floats(ArrayType *array, int *count)
{
	Oid			element_type = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elements;
	bool	   *nulls;
	float	   *values;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D")));
	if (ARR_HASNULL(array) && array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));

	get_typlenbyvalalign(element_type, &typlen, &typbyval, &typalign);
	deconstruct_array(array, element_type, typlen, typbyval, typalign,
					  &elements, &nulls, count);
	values = palloc(sizeof(float) * Max(*count, 1));
	for (int i = 0; i < *count; i++)
		values[i] = array_element_to_float(element_type, elements[i]);
	pfree(elements);
	pfree(nulls);
	return values;
}

/* Cast integer[], real[], double precision[] or numeric[] to vector. */
Datum
array_to_vector(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	int			count;
	float	   *values = vector_array_to_floats(array, &count);
	Vector	   *result;

	vector_check_dim_limit(count);
	vector_check_typmod_dim(typmod, count);

	result = vector_new(count);
	for (int i = 0; i < count; i++)
	{
		result->x[i] = values[i];
		vector_check_element(result->x[i]);
	}
	pfree(values);
	PG_RETURN_VECTOR_P(result);
}

Datum
vector_to_float4(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	Datum	   *elements = palloc(sizeof(Datum) * vec->dim);
	ArrayType  *result;

	for (int i = 0; i < vec->dim; i++)
		elements[i] = Float4GetDatum(vec->x[i]);
	result = construct_array(elements, vec->dim, FLOAT4OID,
							 sizeof(float4), true, TYPALIGN_INT);
	pfree(elements);
	PG_RETURN_POINTER(result);
}
