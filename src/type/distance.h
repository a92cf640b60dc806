/*
 * distance.h
 *	  Distance arithmetic over float4 arrays, shared by the SQL operators,
 *	  the index's exact re-scoring and the benchmarks.
 *
 * This header and distance.c use no PostgreSQL headers, so the
 * micro-benchmark and the fuzz targets link the very code the server runs.
 */
#ifndef HYBRIDSEARCH_DISTANCE_H
#define HYBRIDSEARCH_DISTANCE_H

/* The four metrics of the operator classes. */
typedef enum DistanceMetric
{
	METRIC_L2 = 1,				/* <-> */
	METRIC_INNER_PRODUCT = 2,	/* <#>, negative inner product */
	METRIC_COSINE = 3,			/* <=> */
	METRIC_L1 = 4				/* <+> */
} DistanceMetric;

/*
 * One instruction-set variant of the inner loops.  Every variant sums in
 * float with the same fixed lane layout; results of different variants may
 * differ in the last bits (fused multiply-add), so one process uses one
 * variant for everything it computes.
 */
typedef struct DistanceKernels
{
	const char *name;
	float		(*l2_squared) (const float *a, const float *b, int n);
	float		(*dot) (const float *a, const float *b, int n);
	float		(*l1) (const float *a, const float *b, int n);
} DistanceKernels;

/* The variant chosen for this CPU; set by distance_init(). */
extern const DistanceKernels *distance_kernels;

extern void distance_init(void);
extern int	distance_kernel_variants(const DistanceKernels **variants, int max);

/* Exact distances, the values the SQL operators return. */
extern double distance_l2(const float *a, const float *b, int n);
extern double distance_negative_inner_product(const float *a, const float *b, int n);
extern double distance_inner_product(const float *a, const float *b, int n);
extern double distance_cosine(const float *a, const float *b, int n);
extern double distance_cosine_from_dots(float dot, float norm_a_squared,
										float norm_b_squared);
extern double distance_l1(const float *a, const float *b, int n);
extern double distance_by_metric(DistanceMetric metric,
								 const float *a, const float *b, int n);

#endif							/* HYBRIDSEARCH_DISTANCE_H */
