/*
 * fuzz_vector_typmod.c
 *	  libFuzzer target: the type modifier of vector(n), as vector_typmod_in
 *	  checks it.
 *
 * The input is read as the int32 modifiers the server hands over (any
 * trailing bytes short of an int32 are dropped).  A typmod is accepted
 * exactly when there is one modifier and it is a dimension count a vector
 * may have; an accepted one must then match vectors of its length and no
 * other.
 */
#include <string.h>

#include "fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			count = size / sizeof(int32_t);
	int32_t    *modifiers = malloc(count ? sizeof(int32_t) * count : 1);
	VectorParseResult result;

	memcpy(modifiers, data, sizeof(int32_t) * count);
	vector_parse_typmod(modifiers, count, &result);
	if (count != 1)
		FUZZ_CHECK(result.error == VECTOR_TYPMOD_COUNT);
	else if (vector_dim_error(modifiers[0]) != VECTOR_OK)
		FUZZ_CHECK(result.error == (modifiers[0] < 1 ? VECTOR_TYPMOD_TOO_SMALL
									: VECTOR_TYPMOD_TOO_LARGE));
	else
	{
		FUZZ_CHECK(result.error == VECTOR_OK);
		FUZZ_CHECK(result.typmod == modifiers[0]);
		FUZZ_CHECK(vector_typmod_dim_error(result.typmod, result.typmod) == VECTOR_OK);
		FUZZ_CHECK(vector_typmod_dim_error(result.typmod, result.typmod - 1) == VECTOR_WRONG_DIMS);
		FUZZ_CHECK(vector_typmod_dim_error(result.typmod, result.typmod + 1) == VECTOR_WRONG_DIMS);
	}
	free(modifiers);
	return 0;
}
