/*
 * vector.h
 *	  The pgvector-compatible vector type: on-disk layout and helpers.
 *
 * The varlena layout matches pgvector exactly (int16 dim, int16 unused,
 * float4 values) so that dumps, binary COPY and client libraries written
 * for pgvector work unchanged.
 */
#ifndef HYBRIDSEARCH_VECTOR_H
#define HYBRIDSEARCH_VECTOR_H

#include "fmgr.h"

#include "type/vector_parse.h"

typedef struct Vector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved for future use, always zero */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} Vector;

#define VECTOR_SIZE(_dim)		(offsetof(Vector, x) + sizeof(float) * (_dim))
#define DatumGetVector(x)		((Vector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_VECTOR_P(x)	DatumGetVector(PG_GETARG_DATUM(x))
#define PG_RETURN_VECTOR_P(x)	PG_RETURN_POINTER(x)

extern Vector *vector_new(int dim);
extern void vector_check_dim_limit(int dim);
extern void vector_check_typmod_dim(int typmod, int dim);
extern void vector_check_same_dims(const Vector *a, const Vector *b);
extern void vector_check_element(float value);

#endif							/* HYBRIDSEARCH_VECTOR_H */
