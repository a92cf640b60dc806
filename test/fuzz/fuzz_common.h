/*
 * fuzz_common.h
 *	  Checks the libFuzzer targets in test/fuzz share.
 *
 * A failed property aborts, which libFuzzer reports as a crash with the
 * input that caused it.
 */
#ifndef HYBRIDSEARCH_FUZZ_COMMON_H
#define HYBRIDSEARCH_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "type/sparsevec_parse.h"
#include "type/vector_parse.h"

#define FUZZ_CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "%s:%d: property failed: %s\n", \
					__FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

extern void fuzz_check_accepted(const float *values, int dim, int typmod);
extern void fuzz_check_sparse_accepted(const int32_t *indices,
									   const float *values, int nnz, int dim);

#endif							/* HYBRIDSEARCH_FUZZ_COMMON_H */
