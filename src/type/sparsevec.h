/*
 * sparsevec.h
 *	  The pgvector-compatible sparsevec type: the elements other than zero
 *	  of a vector of up to 10^9 dimensions.
 *
 * The varlena layout matches pgvector: int32 dim, int32 nnz, int32 unused,
 * nnz ascending 0-based int32 indices, then nnz float4 values (never zero).
 */
#ifndef HYBRIDSEARCH_SPARSEVEC_H
#define HYBRIDSEARCH_SPARSEVEC_H

#include "fmgr.h"

#include "type/sparsevec_parse.h"

typedef struct SparseVector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int32		dim;			/* number of dimensions */
	int32		nnz;			/* number of elements stored */
	int32		unused;			/* reserved for future use, always zero */
	int32		indices[FLEXIBLE_ARRAY_MEMBER];
	/* then float values[nnz] */
} SparseVector;

#define SPARSEVEC_SIZE(_nnz) \
	(offsetof(SparseVector, indices) + (_nnz) * (sizeof(int32) + sizeof(float)))
#define SPARSEVEC_VALUES(x)		((float *) ((x)->indices + (x)->nnz))
#define DatumGetSparseVector(x) ((SparseVector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_SPARSEVEC_P(x) DatumGetSparseVector(PG_GETARG_DATUM(x))
#define PG_RETURN_SPARSEVEC_P(x) PG_RETURN_POINTER(x)

extern SparseVector *sparsevec_new(int dim, int nnz);
extern void sparsevec_report_error(const SparsevecParseResult *result,
								   const char *literal);

#endif							/* HYBRIDSEARCH_SPARSEVEC_H */
