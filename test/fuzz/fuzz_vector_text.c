/*
 * fuzz_vector_text.c
 *	  libFuzzer target: the vector type's text input, as vector_in runs it.
 *
 * The input becomes the literal, NUL-terminated in a buffer of exactly its
 * size so that AddressSanitizer catches a read past the end.  An accepted
 * vector must satisfy fuzz_check_accepted(); a rejected one must report an
 * error text input can raise, with an out-of-range element's text inside
 * the literal.
 */
#include <string.h>

#include "fuzz_common.h"

static float values[VECTOR_MAX_DIM];

static void
check_rejected(const char *literal, const VectorParseResult *result)
{
	switch (result->error)
	{
		case VECTOR_BAD_SYNTAX:
		case VECTOR_NO_OPENING_BRACKET:
		case VECTOR_JUNK_AFTER_END:
		case VECTOR_NAN:
		case VECTOR_INFINITE:
		case VECTOR_TOO_FEW_DIMS:
			break;
		case VECTOR_TOO_MANY_DIMS:
			FUZZ_CHECK(result->dim == VECTOR_MAX_DIM);
			break;
		case VECTOR_OUT_OF_RANGE:
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
	VectorParseResult result;

	memcpy(literal, data, size);
	literal[size] = '\0';
	vector_parse_text(literal, -1, values, &result);
	if (result.error == VECTOR_OK)
		fuzz_check_accepted(values, result.dim, -1);
	else
		check_rejected(literal, &result);
	free(literal);
	return 0;
}
