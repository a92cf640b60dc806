/*
 * fuzz_halfvec_text.c
 *	  libFuzzer target: the halfvec type's text input, as halfvec_in runs it
 *	  (vector's parser, bounded to half's range).
 *
 * The input becomes the literal, NUL-terminated in a buffer of exactly its
 * size.  An accepted halfvec must have every element below half's overflow
 * threshold and satisfy fuzz_check_accepted(); a rejected one must report an
 * error text input can raise.
 */
#include <math.h>
#include <string.h>

#include "fuzz_common.h"
#include "type/distance_half.h"

static float values[VECTOR_MAX_DIM];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *literal = malloc(size + 1);
	VectorParseResult result;

	memcpy(literal, data, size);
	literal[size] = '\0';
	vector_parse_text_bounded(literal, -1, HALF_OVERFLOW_AT, values, &result);
	if (result.error == VECTOR_OK)
	{
		for (int i = 0; i < result.dim; i++)
			FUZZ_CHECK(fabsf(values[i]) < HALF_OVERFLOW_AT);
		fuzz_check_accepted(values, result.dim, -1);
	}
	else if (result.error == VECTOR_OUT_OF_RANGE)
	{
		FUZZ_CHECK(result.token_len > 0);
		FUZZ_CHECK(result.token_start + result.token_len <= strlen(literal));
	}
	else
		FUZZ_CHECK(result.error != VECTOR_WRONG_DIMS &&
				   result.error != VECTOR_UNUSED_NOT_ZERO &&
				   result.error != VECTOR_SHORT_DATA);
	free(literal);
	return 0;
}
