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
#include "utils/array.h"

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
extern void vector_report_error(const VectorParseResult *result,
								const char *literal, const char *type_name);
extern int32 vector_typmod_from_array(ArrayType *modifiers,
									  const char *type_name);
extern float *vector_array_to_floats(ArrayType *array, int *count);
extern void vector_check_dim_limit(int dim);
extern void vector_check_typmod_dim(int typmod, int dim);
extern void vector_check_same_dims(const Vector *a, const Vector *b);
extern void vector_check_element(float value);

/* Helpers of vector_ops.c that halfvec's operators share. */
typedef enum ElementwiseOp
{
	ELEMENTWISE_ADD,
	ELEMENTWISE_SUB,
	ELEMENTWISE_MUL
} ElementwiseOp;

extern float elementwise_value(float a, float b, ElementwiseOp op);
extern int	subvector_range(int dim, int32 start, int32 count, int *first);
extern int	compare_elements(const void *a, int a_dim, const void *b, int b_dim,
							 float (*element) (const void *v, int i));
extern double spherical_from_dot(double dot);

#endif							/* HYBRIDSEARCH_VECTOR_H */
