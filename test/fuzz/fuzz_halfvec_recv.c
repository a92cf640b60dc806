/*
 * fuzz_halfvec_recv.c
 *	  libFuzzer target: the halfvec type's binary input, as halfvec_recv
 *	  runs it (vector's header, then IEEE half values).
 *
 * The input is the message, in a buffer of exactly its size.  An accepted
 * halfvec must have consumed exactly its header and values, hold no
 * infinity or NaN (exponent bits all ones) and re-encode to the same
 * bytes; a rejected one must never claim more bytes than there are.
 */
#include <string.h>

#include "fuzz_common.h"

static uint16_t values[VECTOR_MAX_DIM];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *message = malloc(size ? size : 1);
	VectorParseResult result;

	memcpy(message, data, size);
	vector_parse_binary_header(message, size, -1, &result);
	if (result.error == VECTOR_OK)
		vector_parse_binary_half_values(message, size, values, &result);
	FUZZ_CHECK(result.consumed <= size);
	if (result.error == VECTOR_OK)
	{
		FUZZ_CHECK(vector_dim_error(result.dim) == VECTOR_OK);
		FUZZ_CHECK(result.consumed == VECTOR_BINARY_HEADER_LEN + 2 * (size_t) result.dim);
		for (int i = 0; i < result.dim; i++)
		{
			const uint8_t *pt = message + VECTOR_BINARY_HEADER_LEN + 2 * i;

			FUZZ_CHECK((values[i] & 0x7c00) != 0x7c00);
			FUZZ_CHECK(pt[0] == (values[i] >> 8) && pt[1] == (values[i] & 0xff));
		}
	}
	else
		FUZZ_CHECK(result.error == VECTOR_SHORT_DATA ||
				   result.error == VECTOR_TOO_FEW_DIMS ||
				   result.error == VECTOR_TOO_MANY_DIMS ||
				   result.error == VECTOR_UNUSED_NOT_ZERO ||
				   result.error == VECTOR_NAN ||
				   result.error == VECTOR_INFINITE);
	free(message);
	return 0;
}
