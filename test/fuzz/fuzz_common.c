/*
 * fuzz_common.c
 *	  Properties every vector (and sparse vector) a parser accepts must
 *	  have, whatever the form it came in.
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

static char sparse_text[SPARSEVEC_TEXT_MAX_LEN(SPARSEVEC_MAX_NNZ)];
static SparsevecElement sparse_reparsed[SPARSEVEC_MAX_NNZ];

/*
 * A sparse vector accepted in any form: counts within the limits, indices
 * ascending inside the vector, values finite and not zero, and
 * sparsevec_out's text form reads back to the same elements, bit for bit.
 */
void
fuzz_check_sparse_accepted(const int32_t *indices, const float *values,
						   int nnz, int dim)
{
	SparsevecParseResult result;
	size_t		len;

	FUZZ_CHECK(sparsevec_dim_error(dim) == SPARSEVEC_OK);
	FUZZ_CHECK(sparsevec_nnz_error(nnz, dim) == SPARSEVEC_OK);
	for (int i = 0; i < nnz; i++)
	{
		FUZZ_CHECK(sparsevec_index_error(indices[i], i > 0 ? indices[i - 1] : -1, dim) == SPARSEVEC_OK);
		FUZZ_CHECK(sparsevec_element_error(values[i]) == SPARSEVEC_OK);
		FUZZ_CHECK(values[i] != 0);
	}

	len = sparsevec_format_text(indices, values, nnz, dim, sparse_text);
	FUZZ_CHECK(len < SPARSEVEC_TEXT_MAX_LEN(nnz));
	FUZZ_CHECK(strlen(sparse_text) == len);
	sparsevec_parse_text(sparse_text, dim, sparse_reparsed, &result);
	FUZZ_CHECK(result.error == SPARSEVEC_OK);
	FUZZ_CHECK(result.dim == dim && result.nnz == nnz);
	for (int i = 0; i < nnz; i++)
	{
		FUZZ_CHECK(sparse_reparsed[i].index == indices[i]);
		FUZZ_CHECK(memcmp(&sparse_reparsed[i].value, &values[i], sizeof(float)) == 0);
	}
}
