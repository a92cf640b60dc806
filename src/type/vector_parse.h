/*
 * vector_parse.h
 *	  The text, binary and type-modifier forms of vector and halfvec (which
 *	  share them; halfvec's elements are IEEE half): parsing, validation
 *	  and text output in plain C.
 *
 * No PostgreSQL server headers, no allocation, no error raising: the
 * extension (vector.c) and the fuzz targets (test/fuzz) run this same
 * code.  A failure comes back as a VectorError plus the details its message
 * needs; vector.c raises pgvector's error for it.
 */
#ifndef HYBRIDSEARCH_VECTOR_PARSE_H
#define HYBRIDSEARCH_VECTOR_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "common/shortest_dec.h"

/* Largest dimension count any vector may have (pgvector's limit). */
#define VECTOR_MAX_DIM 16000

/* Bytes vector_format_text() may write for dim elements, NUL included. */
#define VECTOR_TEXT_MAX_LEN(dim) \
	((size_t) (dim) * (FLOAT_SHORTEST_DECIMAL_LEN + 1) + 2)

/* Bytes of the binary form's header: int16 dim, int16 unused. */
#define VECTOR_BINARY_HEADER_LEN 4

typedef enum VectorError
{
	VECTOR_OK = 0,
	VECTOR_BAD_SYNTAX,			/* text: not of the form [x,y,...] */
	VECTOR_NO_OPENING_BRACKET,	/* text: does not start with "[" */
	VECTOR_JUNK_AFTER_END,		/* text: goes on after the closing "]" */
	VECTOR_OUT_OF_RANGE,		/* text: an element overflows its type */
	VECTOR_NAN,
	VECTOR_INFINITE,
	VECTOR_TOO_FEW_DIMS,		/* fewer than 1 dimension */
	VECTOR_TOO_MANY_DIMS,		/* more than VECTOR_MAX_DIM */
	VECTOR_WRONG_DIMS,			/* dimension count is not the typmod's */
	VECTOR_UNUSED_NOT_ZERO,		/* binary: the reserved field is not 0 */
	VECTOR_SHORT_DATA,			/* binary: input ends inside the vector */
	VECTOR_TYPMOD_COUNT,		/* typmod: not exactly one modifier */
	VECTOR_TYPMOD_TOO_SMALL,
	VECTOR_TYPMOD_TOO_LARGE
} VectorError;

typedef struct VectorParseResult
{
	VectorError error;
	int			dim;			/* dimensions read, or the count in error */
	int			typmod;			/* the type modifier asked for (-1: any) */
	int			unused;			/* binary: the reserved field */
	size_t		token_start;	/* VECTOR_OUT_OF_RANGE: where the element's */
	size_t		token_len;		/* text lies in the input */
	size_t		consumed;		/* binary: bytes read so far */
} VectorParseResult;

extern VectorError vector_dim_error(int dim);
extern VectorError vector_typmod_dim_error(int typmod, int dim);
extern VectorError vector_element_error(float value);

extern void vector_parse_text(const char *text, int typmod, float *values,
							  VectorParseResult *result);
extern void vector_parse_text_bounded(const char *text, int typmod,
									  float overflow_at, float *values,
									  VectorParseResult *result);
extern size_t vector_format_text(const float *values, int dim, char *buf);

extern void vector_parse_binary_header(const unsigned char *data, size_t len,
									   int typmod, VectorParseResult *result);
extern void vector_parse_binary_values(const unsigned char *data, size_t len,
									   float *values,
									   VectorParseResult *result);

extern void vector_parse_binary_half_values(const unsigned char *data,
											size_t len, uint16_t *values,
											VectorParseResult *result);

extern void vector_parse_typmod(const int32_t *modifiers, int count,
								VectorParseResult *result);

#endif							/* HYBRIDSEARCH_VECTOR_PARSE_H */
