/*
 * distance.c
 *	  Vectorisable distance loops with runtime dispatch to AVX2+FMA or
 *	  AVX-512 where the CPU has them.
 *
 * Each loop keeps DISTANCE_LANES independent float accumulators, which the
 * compiler maps onto SIMD registers without needing -ffast-math, and sums
 * them in a fixed tree order at the end.  The same source is compiled once
 * per instruction set through target attributes; distance_init() picks the
 * widest the CPU supports.
 */
#include <math.h>
#include <stddef.h>

#include "distance.h"

#define DISTANCE_LANES 16

static inline float
sum_lanes(const float *acc)
{
	float		pair[DISTANCE_LANES / 2];
	int			width;

	for (int i = 0; i < DISTANCE_LANES / 2; i++)
		pair[i] = acc[i] + acc[i + DISTANCE_LANES / 2];
	for (width = DISTANCE_LANES / 4; width >= 1; width /= 2)
		for (int i = 0; i < width; i++)
			pair[i] += pair[i + width];
	return pair[0];
}

/*
 * DEFINE_KERNELS(suffix, attributes) emits the four loops for one
 * instruction set and the table that names them.
 */
#define DEFINE_KERNELS(SUFFIX, ATTR) \
static ATTR float \
l2_squared_##SUFFIX(const float *a, const float *b, int n) \
{ \
	float		acc[DISTANCE_LANES] = {0}; \
	int			i = 0; \
	float		tail = 0.0f; \
	for (; i + DISTANCE_LANES <= n; i += DISTANCE_LANES) \
		for (int j = 0; j < DISTANCE_LANES; j++) \
		{ \
			float		d = a[i + j] - b[i + j]; \
			acc[j] += d * d; \
		} \
	for (; i < n; i++) \
		tail += (a[i] - b[i]) * (a[i] - b[i]); \
	return sum_lanes(acc) + tail; \
} \
static ATTR float \
dot_##SUFFIX(const float *a, const float *b, int n) \
{ \
	float		acc[DISTANCE_LANES] = {0}; \
	int			i = 0; \
	float		tail = 0.0f; \
	for (; i + DISTANCE_LANES <= n; i += DISTANCE_LANES) \
		for (int j = 0; j < DISTANCE_LANES; j++) \
			acc[j] += a[i + j] * b[i + j]; \
	for (; i < n; i++) \
		tail += a[i] * b[i]; \
	return sum_lanes(acc) + tail; \
} \
static ATTR float \
l1_##SUFFIX(const float *a, const float *b, int n) \
{ \
	float		acc[DISTANCE_LANES] = {0}; \
	int			i = 0; \
	float		tail = 0.0f; \
	for (; i + DISTANCE_LANES <= n; i += DISTANCE_LANES) \
		for (int j = 0; j < DISTANCE_LANES; j++) \
			acc[j] += fabsf(a[i + j] - b[i + j]); \
	for (; i < n; i++) \
		tail += fabsf(a[i] - b[i]); \
	return sum_lanes(acc) + tail; \
} \
static ATTR void \
cosine_parts_##SUFFIX(const float *a, const float *b, int n, \
					  float *dot, float *norm_a, float *norm_b) \
{ \
	float		acc_ab[DISTANCE_LANES] = {0}; \
	float		acc_aa[DISTANCE_LANES] = {0}; \
	float		acc_bb[DISTANCE_LANES] = {0}; \
	float		tail_ab = 0.0f, tail_aa = 0.0f, tail_bb = 0.0f; \
	int			i = 0; \
	for (; i + DISTANCE_LANES <= n; i += DISTANCE_LANES) \
		for (int j = 0; j < DISTANCE_LANES; j++) \
		{ \
			acc_ab[j] += a[i + j] * b[i + j]; \
			acc_aa[j] += a[i + j] * a[i + j]; \
			acc_bb[j] += b[i + j] * b[i + j]; \
		} \
	for (; i < n; i++) \
	{ \
		tail_ab += a[i] * b[i]; \
		tail_aa += a[i] * a[i]; \
		tail_bb += b[i] * b[i]; \
	} \
	*dot = sum_lanes(acc_ab) + tail_ab; \
	*norm_a = sum_lanes(acc_aa) + tail_aa; \
	*norm_b = sum_lanes(acc_bb) + tail_bb; \
} \
static const DistanceKernels kernels_##SUFFIX = { \
	#SUFFIX, l2_squared_##SUFFIX, dot_##SUFFIX, l1_##SUFFIX, cosine_parts_##SUFFIX \
};

#define NO_TARGET

DEFINE_KERNELS(generic, NO_TARGET)

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86_DISPATCH 1
DEFINE_KERNELS(avx2, __attribute__((target("avx2,fma"))))
DEFINE_KERNELS(avx512, __attribute__((target("avx512f,avx512vl,avx2,fma"))))
#endif

const DistanceKernels *distance_kernels = &kernels_generic;

/* Pick the widest variant this CPU runs; idempotent. */
void
distance_init(void)
{
#ifdef HAVE_X86_DISPATCH
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
		distance_kernels = &kernels_avx512;
	else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		distance_kernels = &kernels_avx2;
#endif
}

/* Every variant this CPU can run, narrowest first (for benchmarks). */
int
distance_kernel_variants(const DistanceKernels **variants, int max)
{
	int			count = 0;

	if (count < max)
		variants[count++] = &kernels_generic;
#ifdef HAVE_X86_DISPATCH
	__builtin_cpu_init();
	if (count < max && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		variants[count++] = &kernels_avx2;
	if (count < max && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
		variants[count++] = &kernels_avx512;
#endif
	return count;
}

double
distance_l2(const float *a, const float *b, int n)
{
	return sqrt((double) distance_kernels->l2_squared(a, b, n));
}

double
distance_inner_product(const float *a, const float *b, int n)
{
	return (double) distance_kernels->dot(a, b, n);
}

double
distance_negative_inner_product(const float *a, const float *b, int n)
{
	return -(double) distance_kernels->dot(a, b, n);
}

/*
 * Cosine distance as pgvector defines it: NaN when either vector is zero,
 * the similarity clamped to [-1, 1] against rounding.
 */
double
distance_cosine(const float *a, const float *b, int n)
{
	float		dot,
				norm_a,
				norm_b;
	double		similarity;

	distance_kernels->cosine_parts(a, b, n, &dot, &norm_a, &norm_b);
	similarity = (double) dot / sqrt((double) norm_a * (double) norm_b);
	if (similarity > 1.0)
		similarity = 1.0;
	else if (similarity < -1.0)
		similarity = -1.0;
	return 1.0 - similarity;
}

double
distance_l1(const float *a, const float *b, int n)
{
	return (double) distance_kernels->l1(a, b, n);
}

double
distance_by_metric(DistanceMetric metric, const float *a, const float *b, int n)
{
	switch (metric)
	{
		case METRIC_L2:
			return distance_l2(a, b, n);
		case METRIC_INNER_PRODUCT:
			return distance_negative_inner_product(a, b, n);
		case METRIC_COSINE:
			return distance_cosine(a, b, n);
		case METRIC_L1:
			return distance_l1(a, b, n);
	}
	return NAN;
}
