/*
 * fuzz_vector_recv.c
 *	  libFuzzer target: the vector type's binary input, as vector_recv runs
 *	  it (header, then values).
 *
 * The input is the message, in a buffer of exactly its size so that
 * AddressSanitizer catches a read past the end.  An accepted vector must
 * have consumed exactly its header and values, re-encode to the same bytes
 * (vector_send's layout) and satisfy fuzz_check_accepted(); a rejected one
 * must never claim more bytes than there are.
 */
#include <string.h>

#include "fuzz_common.h"

static float values[VECTOR_MAX_DIM];

/* vector_send's layout: int16 dim, int16 unused, float4 values, big-endian. */
static void
check_reencodes(const uint8_t *data, const float *vals, int dim)
{
	uint8_t		header[VECTOR_BINARY_HEADER_LEN] = {dim >> 8, dim & 0xff, 0, 0};

	FUZZ_CHECK(memcmp(data, header, sizeof(header)) == 0);
	for (int i = 0; i < dim; i++)
	{
		const uint8_t *pt = data + VECTOR_BINARY_HEADER_LEN + 4 * i;
		uint32_t	bits;

		memcpy(&bits, &vals[i], sizeof(bits));
		FUZZ_CHECK(pt[0] == (bits >> 24) && pt[1] == ((bits >> 16) & 0xff) &&
				   pt[2] == ((bits >> 8) & 0xff) && pt[3] == (bits & 0xff));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *message = malloc(size ? size : 1);
	VectorParseResult result;

	memcpy(message, data, size);
	vector_parse_binary_header(message, size, -1, &result);
	if (result.error == VECTOR_OK)
	{
		FUZZ_CHECK(vector_dim_error(result.dim) == VECTOR_OK);
		FUZZ_CHECK(result.consumed == VECTOR_BINARY_HEADER_LEN);
		vector_parse_binary_values(message, size, values, &result);
	}
	FUZZ_CHECK(result.consumed <= size);
	if (result.error == VECTOR_OK)
	{
		FUZZ_CHECK(result.consumed == VECTOR_BINARY_HEADER_LEN + 4 * (size_t) result.dim);
		check_reencodes(message, values, result.dim);
		fuzz_check_accepted(values, result.dim, -1);
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
