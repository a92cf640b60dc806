/*
 * sparsevec_parse.c
 *	  The sparsevec type's text and binary forms in plain C.
 *
 * Kept free of the server's headers, like vector_parse.c, so the fuzz
 * targets link exactly the code the extension runs.  Checks come in
 * pgvector's order, so an input with several faults reports the same one.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "type/sparsevec_parse.h"

SparsevecError
sparsevec_dim_error(int dim)
{
	if (dim < 1)
		return SPARSEVEC_TOO_FEW_DIMS;
	if (dim > SPARSEVEC_MAX_DIM)
		return SPARSEVEC_TOO_MANY_DIMS;
	return SPARSEVEC_OK;
}

SparsevecError
sparsevec_nnz_error(int nnz, int dim)
{
	if (nnz < 0)
		return SPARSEVEC_NEGATIVE_NNZ;
	if (nnz > SPARSEVEC_MAX_NNZ)
		return SPARSEVEC_TOO_MANY_NNZ;
	if (nnz > dim)
		return SPARSEVEC_NNZ_OVER_DIM;
	return SPARSEVEC_OK;
}

/*
 * A 0-based index must lie in the vector and follow the one before it
 * (previous; -1 for the first).
 */
SparsevecError
sparsevec_index_error(int32_t index, int64_t previous, int dim)
{
	if (index < 0 || index >= dim)
		return SPARSEVEC_INDEX_OUT_OF_BOUNDS;
	if (index < previous)
		return SPARSEVEC_INDICES_NOT_ASCENDING;
	if (index == previous)
		return SPARSEVEC_DUPLICATE_INDEX;
	return SPARSEVEC_OK;
}

SparsevecError
sparsevec_element_error(float value)
{
	if (isnan(value))
		return SPARSEVEC_NAN;
	if (isinf(value))
		return SPARSEVEC_INFINITE;
	return SPARSEVEC_OK;
}

/* The C locale's isspace(), whatever the locale. */
static inline int
is_sparsevec_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
		ch == '\v' || ch == '\f';
}

static inline const char *
skip_spaces(const char *pt)
{
	while (is_sparsevec_space(*pt))
		pt++;
	return pt;
}

/*
 * The most elements the text can hold (its commas plus one): pgvector
 * refuses a text with more than SPARSEVEC_MAX_NNZ before reading it, and
 * the caller sizes the element buffer from it.
 */
int
sparsevec_text_max_nnz(const char *text)
{
	int			count = 1;

	for (const char *pt = text; *pt != '\0'; pt++)
		if (*pt == ',')
			count++;
	return count;
}

/* strtol() clamped to [low, INT_MAX], so messages quote an int. */
static int
parse_int(const char **pt, long low, SparsevecError *error)
{
	char	   *end;
	long		value = strtol(*pt, &end, 10);

	if (end == *pt)
		*error = SPARSEVEC_BAD_SYNTAX;
	*pt = end;
	if (value > INT_MAX)
		return INT_MAX;
	if (value < low)
		return (int) low;
	return (int) value;
}

/*
 * One "index:value" at *pt; a value that is zero is read but not kept.
 * Values that overflow or underflow float4 are out of range, as in
 * float4in.
 */
static SparsevecError
parse_element(const char *text, const char **pt, SparsevecElement *elements,
			  SparsevecParseResult *result)
{
	SparsevecError error = SPARSEVEC_OK;
	int			index;
	float		value;
	char	   *end;

	*pt = skip_spaces(*pt);
	if (**pt == '\0')
		return SPARSEVEC_BAD_SYNTAX;
	index = parse_int(pt, (long) INT_MIN + 1, &error);
	if (error != SPARSEVEC_OK)
		return error;
	*pt = skip_spaces(*pt);
	if (**pt != ':')
		return SPARSEVEC_BAD_SYNTAX;
	*pt = skip_spaces(*pt + 1);

	errno = 0;
	value = strtof(*pt, &end);
	if (end == *pt)
		return SPARSEVEC_BAD_SYNTAX;
	if (errno == ERANGE && (value == 0 || isinf(value)))
	{
		result->token_start = *pt - text;
		result->token_len = end - *pt;
		return SPARSEVEC_OUT_OF_RANGE;
	}
	*pt = end;
	error = sparsevec_element_error(value);
	if (error == SPARSEVEC_OK && value != 0)
	{
		/* 1-based in SQL, 0-based inside */
		elements[result->nnz].index = index - 1;
		elements[result->nnz].value = value;
		result->nnz++;
	}
	return error;
}

/* "{i:x, ...}" then "/dim"; the elements in input order. */
static SparsevecError
parse_text_form(const char *text, SparsevecElement *elements,
				SparsevecParseResult *result)
{
	SparsevecError error = SPARSEVEC_OK;
	const char *pt = skip_spaces(text);

	if (*pt != '{')
		return SPARSEVEC_NO_OPENING_BRACE;
	pt = skip_spaces(pt + 1);
	if (*pt == '}')
		pt++;
	else
	{
		for (;;)
		{
			error = parse_element(text, &pt, elements, result);
			if (error != SPARSEVEC_OK)
				return error;
			pt = skip_spaces(pt);
			if (*pt == '}')
			{
				pt++;
				break;
			}
			if (*pt++ != ',')
				return SPARSEVEC_BAD_SYNTAX;
		}
	}

	pt = skip_spaces(pt);
	if (*pt != '/')
		return SPARSEVEC_NO_DIMENSIONS;
	pt = skip_spaces(pt + 1);
	result->dim = parse_int(&pt, INT_MIN, &error);
	if (error != SPARSEVEC_OK)
		return error;
	if (*skip_spaces(pt) != '\0')
		return SPARSEVEC_JUNK_AFTER_END;
	return SPARSEVEC_OK;
}

static int
compare_indices(const void *a, const void *b)
{
	int32_t		x = ((const SparsevecElement *) a)->index;
	int32_t		y = ((const SparsevecElement *) b)->index;

	return (x > y) - (x < y);
}

/*
 * Parse the text form, a NUL-terminated string, into elements (room for
 * min(sparsevec_text_max_nnz(text), SPARSEVEC_MAX_NNZ) of them), sorted by
 * index.  On success result->dim and result->nnz hold the counts.
 */
void
sparsevec_parse_text(const char *text, int typmod, SparsevecElement *elements,
					 SparsevecParseResult *result)
{
	memset(result, 0, sizeof(*result));
	result->typmod = typmod;
	if (sparsevec_text_max_nnz(text) > SPARSEVEC_MAX_NNZ)
	{
		result->error = SPARSEVEC_TOO_MANY_NNZ;
		return;
	}
	result->error = parse_text_form(text, elements, result);
	if (result->error == SPARSEVEC_OK)
		result->error = sparsevec_dim_error(result->dim);
	if (result->error == SPARSEVEC_OK && typmod != -1 && typmod != result->dim)
		result->error = SPARSEVEC_WRONG_DIMS;
	if (result->error != SPARSEVEC_OK)
		return;

	qsort(elements, result->nnz, sizeof(SparsevecElement), compare_indices);
	for (int i = 0; i < result->nnz; i++)
	{
		result->error = sparsevec_index_error(elements[i].index,
											  i > 0 ? elements[i - 1].index : -1,
											  result->dim);
		if (result->error != SPARSEVEC_OK)
			return;
	}
}

/* Decimal digits of a non-negative int, written at buf; returns the count. */
static size_t
format_int(int value, char *buf)
{
	char		digits[12];
	size_t		count = 0;

	do
	{
		digits[count++] = (char) ('0' + value % 10);
		value /= 10;
	} while (value > 0);
	for (size_t i = 0; i < count; i++)
		buf[i] = digits[count - 1 - i];
	return count;
}

/*
 * Write "{i:x,...}/dim" with 1-based indices and each value in the
 * shortest text that reads back to the same float4; buf holds
 * SPARSEVEC_TEXT_MAX_LEN(nnz) bytes.  Returns the length, less the NUL.
 */
size_t
sparsevec_format_text(const int32_t *indices, const float *values, int nnz,
					  int dim, char *buf)
{
	char	   *pt = buf;

	*pt++ = '{';
	for (int i = 0; i < nnz; i++)
	{
		if (i > 0)
			*pt++ = ',';
		pt += format_int(indices[i] + 1, pt);
		*pt++ = ':';
		pt += float_to_shortest_decimal_bufn(values[i], pt);
	}
	*pt++ = '}';
	*pt++ = '/';
	pt += format_int(dim, pt);
	*pt = '\0';
	return pt - buf;
}

static uint32_t
read_uint32(const unsigned char *pt)
{
	return (uint32_t) pt[0] << 24 | (uint32_t) pt[1] << 16 |
		(uint32_t) pt[2] << 8 | (uint32_t) pt[3];
}

/*
 * Check the binary form's header (int32 dim, nnz, unused) at the start of
 * data's len bytes.  On success result->dim and result->nnz are the counts
 * sparsevec_parse_binary_elements() reads.
 */
void
sparsevec_parse_binary_header(const unsigned char *data, size_t len,
							  int typmod, SparsevecParseResult *result)
{
	memset(result, 0, sizeof(*result));
	result->typmod = typmod;
	if (len < SPARSEVEC_BINARY_HEADER_LEN)
	{
		result->error = SPARSEVEC_SHORT_DATA;
		return;
	}
	result->dim = (int32_t) read_uint32(data);
	result->nnz = (int32_t) read_uint32(data + 4);
	result->unused = (int32_t) read_uint32(data + 8);
	result->consumed = SPARSEVEC_BINARY_HEADER_LEN;

	result->error = sparsevec_dim_error(result->dim);
	if (result->error == SPARSEVEC_OK)
		result->error = sparsevec_nnz_error(result->nnz, result->dim);
	if (result->error == SPARSEVEC_OK && typmod != -1 && typmod != result->dim)
		result->error = SPARSEVEC_WRONG_DIMS;
	if (result->error == SPARSEVEC_OK && result->unused != 0)
		result->error = SPARSEVEC_UNUSED_NOT_ZERO;
}

/*
 * Read the result->nnz 0-based indices, then as many float4 values, that
 * follow the header; stops at the first one missing or invalid.
 */
void
sparsevec_parse_binary_elements(const unsigned char *data, size_t len,
								int32_t *indices, float *values,
								SparsevecParseResult *result)
{
	for (int i = 0; i < result->nnz; i++)
	{
		if (len - result->consumed < sizeof(uint32_t))
		{
			result->error = SPARSEVEC_SHORT_DATA;
			return;
		}
		indices[i] = (int32_t) read_uint32(data + result->consumed);
		result->consumed += sizeof(uint32_t);
		result->error = sparsevec_index_error(indices[i],
											  i > 0 ? indices[i - 1] : -1,
											  result->dim);
		if (result->error != SPARSEVEC_OK)
			return;
	}
	for (int i = 0; i < result->nnz; i++)
	{
		uint32_t	bits;

		if (len - result->consumed < sizeof(bits))
		{
			result->error = SPARSEVEC_SHORT_DATA;
			return;
		}
		bits = read_uint32(data + result->consumed);
		memcpy(&values[i], &bits, sizeof(values[i]));
		result->consumed += sizeof(bits);
		result->error = sparsevec_element_error(values[i]);
		if (result->error == SPARSEVEC_OK && values[i] == 0)
			result->error = SPARSEVEC_ZERO_VALUE;
		if (result->error != SPARSEVEC_OK)
			return;
	}
}
