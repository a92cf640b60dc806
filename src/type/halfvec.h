/*
 * halfvec.h
 *	  The pgvector-compatible halfvec type: vectors of IEEE half-precision
 *	  elements, half the bytes of vector.
 *
 * The varlena layout matches pgvector (int16 dim, int16 unused, then the
 * fp16 values), and so does the binary form (the same fields in network
 * order), so dumps, binary COPY and pgvector's client libraries work
 * unchanged.  Arithmetic converts the elements to float4, exactly.
 */
#ifndef HYBRIDSEARCH_HALFVEC_H
#define HYBRIDSEARCH_HALFVEC_H

#include "fmgr.h"

#include "type/distance_half.h"
#include "type/vector_parse.h"

typedef uint16 half;

typedef struct HalfVector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved for future use, always zero */
	half		x[FLEXIBLE_ARRAY_MEMBER];
} HalfVector;

#define HALFVEC_SIZE(_dim)		(offsetof(HalfVector, x) + sizeof(half) * (_dim))
#define DatumGetHalfVector(x)	((HalfVector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_HALFVEC_P(x)	DatumGetHalfVector(PG_GETARG_DATUM(x))
#define PG_RETURN_HALFVEC_P(x)	PG_RETURN_POINTER(x)

extern HalfVector *halfvec_new(int dim);
extern float *halfvec_to_floats(const HalfVector *vec);
extern half halfvec_from_float(float value);
extern void halfvec_check_dim_limit(int dim);
extern void halfvec_check_typmod_dim(int typmod, int dim);
extern void halfvec_check_element(half value);

#endif							/* HYBRIDSEARCH_HALFVEC_H */
