/*
 * fuzz_sparsevec_text.c
 *	  libFuzzer target: the sparsevec type's text input, as sparsevec_in
 *	  runs it.
 *
 * The input becomes the literal, NUL-terminated in a buffer of exactly its
 * size, and the elements go to a buffer of exactly the size sparsevec_in
 * allocates, so that AddressSanitizer catches a write past either.  An
 * accepted vector must satisfy fuzz_check_sparse_accepted(); a rejected one
 * must report an error text input can raise.
 */
#include <string.h>

#include "fuzz_common.h"

static int32_t indices[SPARSEVEC_MAX_NNZ];
static float values[SPARSEVEC_MAX_NNZ];

static void
check_rejected(const char *literal, const SparsevecParseResult *result)
{
	switch (result->error)
	{
		case SPARSEVEC_BAD_SYNTAX:
		case SPARSEVEC_NO_OPENING_BRACE:
		case SPARSEVEC_NO_DIMENSIONS:
		case SPARSEVEC_JUNK_AFTER_END:
		case SPARSEVEC_NAN:
		case SPARSEVEC_INFINITE:
		case SPARSEVEC_TOO_FEW_DIMS:
		case SPARSEVEC_TOO_MANY_DIMS:
		case SPARSEVEC_INDEX_OUT_OF_BOUNDS:
		case SPARSEVEC_DUPLICATE_INDEX:
			break;
		case SPARSEVEC_TOO_MANY_NNZ:
			FUZZ_CHECK(sparsevec_text_max_nnz(literal) > SPARSEVEC_MAX_NNZ);
			break;
		case SPARSEVEC_OUT_OF_RANGE:
			FUZZ_CHECK(result->token_len > 0);
			FUZZ_CHECK(result->token_start + result->token_len <= strlen(literal));
			break;
		default:
			FUZZ_CHECK(!"an error text input cannot raise");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *literal = malloc(size + 1);
	int			room;
	SparsevecElement *elements;
	SparsevecParseResult result;

	memcpy(literal, data, size);
	literal[size] = '\0';
	room = sparsevec_text_max_nnz(literal);
	if (room > SPARSEVEC_MAX_NNZ)
		room = SPARSEVEC_MAX_NNZ;
	elements = malloc(sizeof(SparsevecElement) * room);
	sparsevec_parse_text(literal, -1, elements, &result);
	if (result.error == SPARSEVEC_OK)
	{
		FUZZ_CHECK(result.nnz <= room);
		for (int i = 0; i < result.nnz; i++)
		{
			indices[i] = elements[i].index;
			values[i] = elements[i].value;
		}
		fuzz_check_sparse_accepted(indices, values, result.nnz, result.dim);
	}
	else
		check_rejected(literal, &result);
	free(elements);
	free(literal);
	return 0;
}
