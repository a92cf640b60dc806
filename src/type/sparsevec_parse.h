/*
 * sparsevec_parse.h
 *	  The sparsevec type's text form ("{1:1.5,3:2}/5", 1-based indices)
 *	  and binary form (int32 dim, nnz, unused, then nnz 0-based int32
 *	  indices and nnz float4 values, network order): parsing, validation
 *	  and text output in plain C.
 *
 * Like vector_parse.h: no server headers, no allocation, no error raising,
 * so the fuzz targets run this same code.  A failure comes back as a
 * SparsevecError; sparsevec.c raises pgvector's error for it.
 */
#ifndef HYBRIDSEARCH_SPARSEVEC_PARSE_H
#define HYBRIDSEARCH_SPARSEVEC_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "common/shortest_dec.h"

/* pgvector's limits: dimensions, and elements other than zero. */
#define SPARSEVEC_MAX_DIM 1000000000
#define SPARSEVEC_MAX_NNZ 16000

/*
 * Bytes sparsevec_format_text() may write for nnz elements, NUL included:
 * per element up to 10 digits, ":", a value (FLOAT_SHORTEST_DECIMAL_LEN
 * less its NUL) and ","; then "{", "}", "/", 10 digits and the NUL.
 */
#define SPARSEVEC_TEXT_MAX_LEN(nnz) \
	((size_t) (nnz) * (11 + FLOAT_SHORTEST_DECIMAL_LEN) + 14)

/* Bytes of the binary form's header: int32 dim, nnz, unused. */
#define SPARSEVEC_BINARY_HEADER_LEN 12

typedef enum SparsevecError
{
	SPARSEVEC_OK = 0,
	SPARSEVEC_BAD_SYNTAX,		/* text: not of the form {i:x,...}/dim */
	SPARSEVEC_NO_OPENING_BRACE, /* text: does not start with "{" */
	SPARSEVEC_NO_DIMENSIONS,	/* text: no "/" after the closing "}" */
	SPARSEVEC_JUNK_AFTER_END,	/* text: goes on after the dimensions */
	SPARSEVEC_OUT_OF_RANGE,		/* text: a value overflows or underflows */
	SPARSEVEC_NAN,
	SPARSEVEC_INFINITE,
	SPARSEVEC_TOO_FEW_DIMS,
	SPARSEVEC_TOO_MANY_DIMS,
	SPARSEVEC_WRONG_DIMS,		/* dimension count is not the typmod's */
	SPARSEVEC_NEGATIVE_NNZ,		/* binary */
	SPARSEVEC_TOO_MANY_NNZ,
	SPARSEVEC_NNZ_OVER_DIM,		/* binary: more elements than dimensions */
	SPARSEVEC_INDEX_OUT_OF_BOUNDS,
	SPARSEVEC_INDICES_NOT_ASCENDING,	/* binary */
	SPARSEVEC_DUPLICATE_INDEX,
	SPARSEVEC_UNUSED_NOT_ZERO,	/* binary */
	SPARSEVEC_ZERO_VALUE,		/* binary: a stored value is zero */
	SPARSEVEC_SHORT_DATA		/* binary: input ends inside the vector */
} SparsevecError;

/* One element read from the text form; index is 0-based. */
typedef struct SparsevecElement
{
	int32_t		index;
	float		value;
} SparsevecElement;

typedef struct SparsevecParseResult
{
	SparsevecError error;
	int			dim;			/* dimensions, or the count in error */
	int			nnz;			/* elements kept (zeros are dropped) */
	int			typmod;			/* the type modifier asked for (-1: any) */
	int			unused;			/* binary: the reserved field */
	size_t		token_start;	/* SPARSEVEC_OUT_OF_RANGE: where the */
	size_t		token_len;		/* value's text lies in the input */
	size_t		consumed;		/* binary: bytes read so far */
} SparsevecParseResult;

extern int	sparsevec_text_max_nnz(const char *text);
extern void sparsevec_parse_text(const char *text, int typmod,
								 SparsevecElement *elements,
								 SparsevecParseResult *result);
extern size_t sparsevec_format_text(const int32_t *indices,
									const float *values, int nnz, int dim,
									char *buf);

extern SparsevecError sparsevec_dim_error(int dim);
extern SparsevecError sparsevec_nnz_error(int nnz, int dim);
extern SparsevecError sparsevec_index_error(int32_t index, int64_t previous,
											int dim);
extern SparsevecError sparsevec_element_error(float value);

extern void sparsevec_parse_binary_header(const unsigned char *data,
										  size_t len, int typmod,
										  SparsevecParseResult *result);
extern void sparsevec_parse_binary_elements(const unsigned char *data,
											size_t len, int32_t *indices,
											float *values,
											SparsevecParseResult *result);

#endif							/* HYBRIDSEARCH_SPARSEVEC_PARSE_H */
