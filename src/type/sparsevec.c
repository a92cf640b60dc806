/*
 * sparsevec.c
 *	  The sparsevec type: text and binary I/O, type modifier, casts among
 *	  vector, halfvec, sparsevec and arrays.
 *
 * Behaviour and messages follow pgvector; the forms themselves are read
 * and written by sparsevec_parse.c.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"

#include "type/halfvec.h"
#include "type/sparsevec.h"
#include "type/vector.h"

PG_FUNCTION_INFO_V1(sparsevec_in);
PG_FUNCTION_INFO_V1(sparsevec_out);
PG_FUNCTION_INFO_V1(sparsevec_typmod_in);
PG_FUNCTION_INFO_V1(sparsevec_recv);
PG_FUNCTION_INFO_V1(sparsevec_send);
PG_FUNCTION_INFO_V1(sparsevec);
PG_FUNCTION_INFO_V1(vector_to_sparsevec);
PG_FUNCTION_INFO_V1(halfvec_to_sparsevec);
PG_FUNCTION_INFO_V1(array_to_sparsevec);
PG_FUNCTION_INFO_V1(sparsevec_to_vector);
PG_FUNCTION_INFO_V1(sparsevec_to_halfvec);

SparseVector *
sparsevec_new(int dim, int nnz)
{
	Size		size = SPARSEVEC_SIZE(nnz);
	SparseVector *result = (SparseVector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	result->nnz = nnz;
	return result;
}

/* The errors of a malformed text form, which quote it. */
static void
report_syntax_error(const SparsevecParseResult *result, const char *literal)
{
	const char *detail = NULL;

	if (result->error == SPARSEVEC_NO_OPENING_BRACE)
		detail = "Vector contents must start with \"{\".";
	else if (result->error == SPARSEVEC_NO_DIMENSIONS)
		detail = "Unexpected end of input.";
	else if (result->error == SPARSEVEC_JUNK_AFTER_END)
		detail = "Junk after closing.";
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type sparsevec: \"%s\"", literal),
			 detail ? errdetail("%s", detail) : 0));
}

/*
 * Raise pgvector's error for a failed parse or check.  literal is the
 * text input, for the errors that quote it; NULL for the others.
 */
void
sparsevec_report_error(const SparsevecParseResult *result, const char *literal)
{
	int			code = ERRCODE_DATA_EXCEPTION;
	const char *message = NULL;

	switch (result->error)
	{
		case SPARSEVEC_OK:
			return;
		case SPARSEVEC_BAD_SYNTAX:
		case SPARSEVEC_NO_OPENING_BRACE:
		case SPARSEVEC_NO_DIMENSIONS:
		case SPARSEVEC_JUNK_AFTER_END:
			report_syntax_error(result, literal);
			break;
		case SPARSEVEC_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%s\" is out of range for type sparsevec",
							pnstrdup(literal + result->token_start,
									 result->token_len))));
		case SPARSEVEC_WRONG_DIMS:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected %d dimensions, not %d", result->typmod, result->dim)));
		case SPARSEVEC_UNUSED_NOT_ZERO:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected unused to be 0, not %d", result->unused)));
		case SPARSEVEC_TOO_MANY_DIMS:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("sparsevec cannot have more than %d dimensions", SPARSEVEC_MAX_DIM)));
		case SPARSEVEC_TOO_MANY_NNZ:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("sparsevec cannot have more than %d non-zero elements", SPARSEVEC_MAX_NNZ)));
		case SPARSEVEC_NNZ_OVER_DIM:
			code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			message = "sparsevec cannot have more elements than dimensions";
			break;
		case SPARSEVEC_SHORT_DATA:
			/* what pq_getmsgint() and friends raise */
			code = ERRCODE_PROTOCOL_VIOLATION;
			message = "insufficient data left in message";
			break;
		case SPARSEVEC_NAN:
			message = "NaN not allowed in sparsevec";
			break;
		case SPARSEVEC_INFINITE:
			message = "infinite value not allowed in sparsevec";
			break;
		case SPARSEVEC_TOO_FEW_DIMS:
			message = "sparsevec must have at least 1 dimension";
			break;
		case SPARSEVEC_NEGATIVE_NNZ:
			message = "sparsevec cannot have negative number of elements";
			break;
		case SPARSEVEC_INDEX_OUT_OF_BOUNDS:
			message = "sparsevec index out of bounds";
			break;
		case SPARSEVEC_INDICES_NOT_ASCENDING:
			message = "sparsevec indices must be in ascending order";
			break;
		case SPARSEVEC_DUPLICATE_INDEX:
			message = "sparsevec indices must not contain duplicates";
			break;
		case SPARSEVEC_ZERO_VALUE:
			message = "binary representation of sparsevec cannot contain zero values";
			break;
	}
	if (message == NULL)
		elog(ERROR, "unexpected sparsevec error %d", (int) result->error);
	ereport(ERROR, (errcode(code), errmsg("%s", message)));
}

static void
report_sparsevec_check(SparsevecError error, int typmod, int dim)
{
	SparsevecParseResult result = {.error = error, .typmod = typmod, .dim = dim};

	sparsevec_report_error(&result, NULL);
}

/* dim must be possible and, unless typmod is -1, equal to it. */
static void
check_dims(int typmod, int dim)
{
	report_sparsevec_check(sparsevec_dim_error(dim), typmod, dim);
	if (typmod != -1 && typmod != dim)
		report_sparsevec_check(SPARSEVEC_WRONG_DIMS, typmod, dim);
}

Datum
sparsevec_in(PG_FUNCTION_ARGS)
{
	const char *literal = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			room = Min(sparsevec_text_max_nnz(literal), SPARSEVEC_MAX_NNZ);
	SparsevecElement *elements = palloc(sizeof(SparsevecElement) * room);
	SparsevecParseResult parsed;
	SparseVector *result;
	float	   *values;

	sparsevec_parse_text(literal, typmod, elements, &parsed);
	sparsevec_report_error(&parsed, literal);
	result = sparsevec_new(parsed.dim, parsed.nnz);
	values = SPARSEVEC_VALUES(result);
	for (int i = 0; i < parsed.nnz; i++)
	{
		result->indices[i] = elements[i].index;
		values[i] = elements[i].value;
	}
	pfree(elements);
	PG_RETURN_SPARSEVEC_P(result);
}

Datum
sparsevec_out(PG_FUNCTION_ARGS)
{
	SparseVector *vec = PG_GETARG_SPARSEVEC_P(0);
	char	   *buf = palloc(SPARSEVEC_TEXT_MAX_LEN(vec->nnz));

	sparsevec_format_text(vec->indices, SPARSEVEC_VALUES(vec), vec->nnz,
						  vec->dim, buf);
	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_CSTRING(buf);
}

Datum
sparsevec_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *modifiers = PG_GETARG_ARRAYTYPE_P(0);
	int			count;
	int32	   *values = ArrayGetIntegerTypmods(modifiers, &count);

	if (count != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier")));
	if (values[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type sparsevec must be at least 1")));
	if (values[0] > SPARSEVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type sparsevec cannot exceed %d", SPARSEVEC_MAX_DIM)));
	PG_RETURN_INT32(values[0]);
}

/* Binary input: int32 dim, nnz, unused; 0-based indices; float4 values. */
Datum
sparsevec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	const unsigned char *data = (const unsigned char *) buf->data + buf->cursor;
	size_t		len = buf->len - buf->cursor;
	SparsevecParseResult parsed;
	SparseVector *result;

	sparsevec_parse_binary_header(data, len, typmod, &parsed);
	sparsevec_report_error(&parsed, NULL);
	result = sparsevec_new(parsed.dim, parsed.nnz);
	sparsevec_parse_binary_elements(data, len, result->indices,
									SPARSEVEC_VALUES(result), &parsed);
	sparsevec_report_error(&parsed, NULL);
	buf->cursor += parsed.consumed;
	PG_RETURN_SPARSEVEC_P(result);
}

Datum
sparsevec_send(PG_FUNCTION_ARGS)
{
	SparseVector *vec = PG_GETARG_SPARSEVEC_P(0);
	float	   *values = SPARSEVEC_VALUES(vec);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, vec->dim);
	pq_sendint32(&buf, vec->nnz);
	pq_sendint32(&buf, vec->unused);
	for (int i = 0; i < vec->nnz; i++)
		pq_sendint32(&buf, vec->indices[i]);
	for (int i = 0; i < vec->nnz; i++)
		pq_sendfloat4(&buf, values[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Cast sparsevec to sparsevec(n): checks the length, never truncates. */
Datum
sparsevec(PG_FUNCTION_ARGS)
{
	SparseVector *vec = PG_GETARG_SPARSEVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	if (typmod != -1 && typmod != vec->dim)
		report_sparsevec_check(SPARSEVEC_WRONG_DIMS, typmod, vec->dim);
	PG_RETURN_SPARSEVEC_P(vec);
}

/* The elements other than zero of dim dense float4 values. */
static SparseVector *
sparsevec_from_dense(const float *x, int dim)
{
	int			nnz = 0;
	SparseVector *result;
	float	   *values;

	for (int i = 0; i < dim; i++)
		if (x[i] != 0)
			nnz++;
	report_sparsevec_check(sparsevec_nnz_error(nnz, dim), -1, dim);
	result = sparsevec_new(dim, nnz);
	values = SPARSEVEC_VALUES(result);
	nnz = 0;
	for (int i = 0; i < dim; i++)
	{
		if (x[i] != 0)
		{
			result->indices[nnz] = i;
			values[nnz++] = x[i];
		}
	}
	return result;
}

Datum
vector_to_sparsevec(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);

	check_dims(PG_GETARG_INT32(1), vec->dim);
	PG_RETURN_SPARSEVEC_P(sparsevec_from_dense(vec->x, vec->dim));
}

Datum
halfvec_to_sparsevec(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	float	   *x;
	SparseVector *result;

	check_dims(PG_GETARG_INT32(1), vec->dim);
	x = halfvec_to_floats(vec);
	result = sparsevec_from_dense(x, vec->dim);
	pfree(x);
	PG_RETURN_SPARSEVEC_P(result);
}

/* Cast integer[], real[], double precision[] or numeric[] to sparsevec. */
Datum
array_to_sparsevec(PG_FUNCTION_ARGS)
{
	int			count;
	float	   *x = vector_array_to_floats(PG_GETARG_ARRAYTYPE_P(0), &count);
	SparseVector *result;

	check_dims(PG_GETARG_INT32(1), count);
	for (int i = 0; i < count; i++)
		report_sparsevec_check(sparsevec_element_error(x[i]), -1, count);
	result = sparsevec_from_dense(x, count);
	pfree(x);
	PG_RETURN_SPARSEVEC_P(result);
}

Datum
sparsevec_to_vector(PG_FUNCTION_ARGS)
{
	SparseVector *vec = PG_GETARG_SPARSEVEC_P(0);
	float	   *values = SPARSEVEC_VALUES(vec);
	Vector	   *result;

	vector_check_dim_limit(vec->dim);
	vector_check_typmod_dim(PG_GETARG_INT32(1), vec->dim);
	result = vector_new(vec->dim);
	for (int i = 0; i < vec->nnz; i++)
		result->x[vec->indices[i]] = values[i];
	PG_RETURN_VECTOR_P(result);
}

Datum
sparsevec_to_halfvec(PG_FUNCTION_ARGS)
{
	SparseVector *vec = PG_GETARG_SPARSEVEC_P(0);
	float	   *values = SPARSEVEC_VALUES(vec);
	HalfVector *result;

	halfvec_check_dim_limit(vec->dim);
	halfvec_check_typmod_dim(PG_GETARG_INT32(1), vec->dim);
	result = halfvec_new(vec->dim);
	for (int i = 0; i < vec->nnz; i++)
		result->x[vec->indices[i]] = halfvec_from_float(values[i]);
	PG_RETURN_HALFVEC_P(result);
}
