/*
 * vector_parse.c
 *	  The vector type's text, binary and type-modifier forms in plain C.
 *
 * Kept free of the server's headers and memory contexts so that the fuzz
 * targets in test/fuzz link exactly the code the extension runs.  Every
 * function checks in the order pgvector does, so that an input with
 * several faults reports the same one.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "type/vector_parse.h"

VectorError
vector_dim_error(int dim)
{
	if (dim < 1)
		return VECTOR_TOO_FEW_DIMS;
	if (dim > VECTOR_MAX_DIM)
		return VECTOR_TOO_MANY_DIMS;
	return VECTOR_OK;
}

/* A typmod of -1 means "any length". */
VectorError
vector_typmod_dim_error(int typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		return VECTOR_WRONG_DIMS;
	return VECTOR_OK;
}

VectorError
vector_element_error(float value)
{
	if (isnan(value))
		return VECTOR_NAN;
	if (isinf(value))
		return VECTOR_INFINITE;
	return VECTOR_OK;
}

/* The C locale's isspace(), whatever the locale. */
static inline int
is_vector_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
		ch == '\v' || ch == '\f';
}

static inline const char *
skip_spaces(const char *pt)
{
	while (is_vector_space(*pt))
		pt++;
	return pt;
}

/*
 * Parse one element at *pt into *value and advance *pt past it.  strtof
 * accepts what float4in accepts (the server keeps LC_NUMERIC at "C");
 * values that overflow float4 are an error, values that underflow round
 * towards zero as float4in does.
 */
static VectorError
parse_element(const char *text, const char **pt, float overflow_at,
			  float *value, VectorParseResult *result)
{
	char	   *end;

	if (**pt == '\0')
		return VECTOR_BAD_SYNTAX;
	errno = 0;
	*value = strtof(*pt, &end);
	if (end == *pt)
		return VECTOR_BAD_SYNTAX;
	if ((errno == ERANGE && isinf(*value)) ||
		(!isinf(*value) && fabsf(*value) >= overflow_at))
	{
		result->token_start = *pt - text;
		result->token_len = end - *pt;
		return VECTOR_OUT_OF_RANGE;
	}
	*pt = end;
	return vector_element_error(*value);
}

/* The elements of "[x, y, ...]", counted in result->dim. */
static VectorError
parse_text_elements(const char *text, float overflow_at, float *values,
					VectorParseResult *result)
{
	const char *pt = skip_spaces(text);

	if (*pt != '[')
		return VECTOR_NO_OPENING_BRACKET;
	pt = skip_spaces(pt + 1);
	if (*pt == ']')
		return VECTOR_TOO_FEW_DIMS;

	for (;;)
	{
		VectorError error;

		/* the limit comes before whatever follows, as in pgvector */
		if (result->dim == VECTOR_MAX_DIM)
			return VECTOR_TOO_MANY_DIMS;
		pt = skip_spaces(pt);
		error = parse_element(text, &pt, overflow_at, &values[result->dim],
							  result);
		if (error != VECTOR_OK)
			return error;
		result->dim++;
		pt = skip_spaces(pt);
		if (*pt == ']')
			break;
		if (*pt++ != ',')
			return VECTOR_BAD_SYNTAX;
	}

	if (*skip_spaces(pt + 1) != '\0')
		return VECTOR_JUNK_AFTER_END;
	return VECTOR_OK;
}

/*
 * Parse the text form, a NUL-terminated string, into values (room for
 * VECTOR_MAX_DIM floats).  On success result->dim holds the count.
 */
void
vector_parse_text(const char *text, int typmod, float *values,
				  VectorParseResult *result)
{
	vector_parse_text_bounded(text, typmod, INFINITY, values, result);
}

/*
 * vector_parse_text() for a narrower element type: a finite element whose
 * magnitude reaches overflow_at (the first value that rounds to infinity in
 * that type) is VECTOR_OUT_OF_RANGE, checked element by element as the
 * text is read, as pgvector does for halfvec.
 */
void
vector_parse_text_bounded(const char *text, int typmod, float overflow_at,
						  float *values, VectorParseResult *result)
{
	memset(result, 0, sizeof(*result));
	result->typmod = typmod;
	result->error = parse_text_elements(text, overflow_at, values, result);
	if (result->error == VECTOR_OK)
		result->error = vector_typmod_dim_error(typmod, result->dim);
}

/*
 * Write "[x,y,...]" with each element in the shortest text that reads back
 * to the same float4, as float4out does; buf holds VECTOR_TEXT_MAX_LEN(dim)
 * bytes.  Returns the length written, less the NUL.
 */
size_t
vector_format_text(const float *values, int dim, char *buf)
{
	char	   *pt = buf;

	*pt++ = '[';
	for (int i = 0; i < dim; i++)
	{
		if (i > 0)
			*pt++ = ',';
		pt += float_to_shortest_decimal_bufn(values[i], pt);
	}
	*pt++ = ']';
	*pt = '\0';
	return pt - buf;
}

static uint32_t
read_uint32(const unsigned char *pt)
{
	return (uint32_t) pt[0] << 24 | (uint32_t) pt[1] << 16 |
		(uint32_t) pt[2] << 8 | (uint32_t) pt[3];
}

/* Both header fields are signed int16 on the wire, as in pgvector. */
static int16_t
read_int16(const unsigned char *pt)
{
	return (int16_t) ((uint16_t) pt[0] << 8 | (uint16_t) pt[1]);
}

/*
 * Check the binary form's header (int16 dim, int16 unused, network order)
 * at the start of data's len bytes.  On success result->dim is the count
 * vector_parse_binary_values() reads.
 */
void
vector_parse_binary_header(const unsigned char *data, size_t len,
						   int typmod, VectorParseResult *result)
{
	memset(result, 0, sizeof(*result));
	result->typmod = typmod;
	if (len < VECTOR_BINARY_HEADER_LEN)
	{
		result->error = VECTOR_SHORT_DATA;
		return;
	}
	result->dim = read_int16(data);
	result->unused = read_int16(data + 2);
	result->consumed = VECTOR_BINARY_HEADER_LEN;

	result->error = vector_dim_error(result->dim);
	if (result->error == VECTOR_OK)
		result->error = vector_typmod_dim_error(typmod, result->dim);
	if (result->error == VECTOR_OK && result->unused != 0)
		result->error = VECTOR_UNUSED_NOT_ZERO;
}

/*
 * Read the result->dim float4 values (network order) that follow the
 * header vector_parse_binary_header() accepted, into values.  Stops at the
 * first value missing or not finite.
 */
void
vector_parse_binary_values(const unsigned char *data, size_t len,
						   float *values, VectorParseResult *result)
{
	for (int i = 0; i < result->dim; i++)
	{
		uint32_t	bits;

		if (len - result->consumed < sizeof(bits))
		{
			result->error = VECTOR_SHORT_DATA;
			return;
		}
		bits = read_uint32(data + result->consumed);
		memcpy(&values[i], &bits, sizeof(values[i]));
		result->consumed += sizeof(bits);
		result->error = vector_element_error(values[i]);
		if (result->error != VECTOR_OK)
			return;
	}
}

/*
 * Read the result->dim IEEE half values (network order) that follow the
 * header vector_parse_binary_header() accepted, as halfvec's binary form
 * has them.  Stops at the first value missing or not finite: exponent bits
 * all ones is infinity (mantissa 0) or NaN.
 */
void
vector_parse_binary_half_values(const unsigned char *data, size_t len,
								uint16_t *values, VectorParseResult *result)
{
	for (int i = 0; i < result->dim; i++)
	{
		if (len - result->consumed < sizeof(values[i]))
		{
			result->error = VECTOR_SHORT_DATA;
			return;
		}
		values[i] = (uint16_t) ((uint16_t) data[result->consumed] << 8 |
								data[result->consumed + 1]);
		result->consumed += sizeof(values[i]);
		if ((values[i] & 0x7c00) == 0x7c00)
		{
			result->error = (values[i] & 0x03ff) ? VECTOR_NAN : VECTOR_INFINITE;
			return;
		}
	}
}

/* Check the modifiers of vector(n); on success result->typmod is n. */
void
vector_parse_typmod(const int32_t *modifiers, int count,
					VectorParseResult *result)
{
	memset(result, 0, sizeof(*result));
	if (count != 1)
	{
		result->error = VECTOR_TYPMOD_COUNT;
		return;
	}
	result->typmod = modifiers[0];
	if (result->typmod < 1)
		result->error = VECTOR_TYPMOD_TOO_SMALL;
	else if (result->typmod > VECTOR_MAX_DIM)
		result->error = VECTOR_TYPMOD_TOO_LARGE;
}
