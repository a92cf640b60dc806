/*
 * fuzz_sparsevec_recv.c
 *	  libFuzzer target: the sparsevec type's binary input, as
 *	  sparsevec_recv runs it (header, then indices and values).
 *
 * The input is the message, in a buffer of exactly its size so that
 * AddressSanitizer catches a read past the end.  An accepted vector must
 * have consumed exactly its header, indices and values, and satisfy
 * fuzz_check_sparse_accepted(); a rejected one must never claim more bytes
 * than there are.
 */
#include <string.h>

#include "fuzz_common.h"

static int32_t indices[SPARSEVEC_MAX_NNZ];
static float values[SPARSEVEC_MAX_NNZ];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *message = malloc(size ? size : 1);
	SparsevecParseResult result;

	memcpy(message, data, size);
	sparsevec_parse_binary_header(message, size, -1, &result);
	if (result.error == SPARSEVEC_OK)
	{
		FUZZ_CHECK(result.consumed == SPARSEVEC_BINARY_HEADER_LEN);
		FUZZ_CHECK(sparsevec_nnz_error(result.nnz, result.dim) == SPARSEVEC_OK);
		sparsevec_parse_binary_elements(message, size, indices, values, &result);
	}
	FUZZ_CHECK(result.consumed <= size);
	if (result.error == SPARSEVEC_OK)
	{
		FUZZ_CHECK(result.consumed == SPARSEVEC_BINARY_HEADER_LEN + 8 * (size_t) result.nnz);
		fuzz_check_sparse_accepted(indices, values, result.nnz, result.dim);
	}
	else
		FUZZ_CHECK(result.error != SPARSEVEC_BAD_SYNTAX &&
				   result.error != SPARSEVEC_OUT_OF_RANGE &&
				   result.error != SPARSEVEC_WRONG_DIMS);
	free(message);
	return 0;
}
