/*
 * fuzz_common.c
 *	  Properties every vector a parser accepts must have, whatever the
 *	  form it came in.
 */
#include <string.h>

#include "fuzz_common.h"

static char text[VECTOR_TEXT_MAX_LEN(VECTOR_MAX_DIM)];
static float reparsed[VECTOR_MAX_DIM];

/*
 * values[0..dim) were accepted under typmod: the count is within the
 * limits, every element is finite, and vector_out's text form reads back to
 * the same bits (so -0 and subnormals survive a dump) under typmod dim,
 * and under typmod dim + 1 fails naming both counts.
 */
void
fuzz_check_accepted(const float *values, int dim, int typmod)
{
	VectorParseResult result;
	size_t		len;

	FUZZ_CHECK(vector_dim_error(dim) == VECTOR_OK);
	FUZZ_CHECK(typmod == -1 || typmod == dim);
	for (int i = 0; i < dim; i++)
		FUZZ_CHECK(vector_element_error(values[i]) == VECTOR_OK);

	len = vector_format_text(values, dim, text);
	FUZZ_CHECK(len < VECTOR_TEXT_MAX_LEN(dim));
	FUZZ_CHECK(strlen(text) == len);

	vector_parse_text(text, dim, reparsed, &result);
	FUZZ_CHECK(result.error == VECTOR_OK);
	FUZZ_CHECK(result.dim == dim);
	FUZZ_CHECK(memcmp(values, reparsed, sizeof(float) * dim) == 0);

	vector_parse_text(text, dim + 1, reparsed, &result);
	FUZZ_CHECK(result.error == VECTOR_WRONG_DIMS);
	FUZZ_CHECK(result.dim == dim && result.typmod == dim + 1);
}
