/*
 * distance.c
 *	  Vectorisable distance loops with runtime dispatch to AVX2+FMA or
 *	  AVX-512 where the CPU has them.
 *
 * Each loop keeps DISTANCE_LANES independent float accumulators in one
 * vector value, which the compiler maps onto SIMD registers without
 * needing -ffast-math, and sums them in a fixed tree order at the end.  The same source is compiled once
 * per instruction set through target attributes; distance_init() picks the
 * widest the CPU supports.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "type/distance.h"

/*
 * Float lanes as GCC/Clang vector values, as wide as each instruction set's
 * registers: the compiler keeps the accumulators in registers without
 * needing -ffast-math.  Lanes are summed in a fixed tree order at the end.
 */
typedef float lanes4 __attribute__((vector_size(16)));
typedef int32_t lanes4_int __attribute__((vector_size(16)));
typedef float lanes8 __attribute__((vector_size(32)));
typedef int32_t lanes8_int __attribute__((vector_size(32)));
typedef float lanes16 __attribute__((vector_size(64)));
typedef int32_t lanes16_int __attribute__((vector_size(64)));

/* Sum of two accumulators of width lanes each, in a fixed tree order. */
static inline float
sum_lanes(const float *acc0, const float *acc1, int width)
{
	float		lanes[16];

	for (int i = 0; i < width; i++)
		lanes[i] = acc0[i] + acc1[i];
	for (width /= 2; width >= 1; width /= 2)
		for (int i = 0; i < width; i++)
			lanes[i] += lanes[i + width];
	return lanes[0];
}

/*
 * The body shared by the loops: STEP(x, y) turns two blocks of lanes into
 * the lanes to add, TERM(x, y) one element into its term.  Two accumulators
 * keep two independent dependency chains in flight; vectors move through
 * memcpy, so no value of vector type crosses a function boundary.
 */
#define KERNEL_BODY(VEC, STEP, TERM) \
	const int	width = sizeof(VEC) / sizeof(float); \
	VEC			acc0 = {0}; \
	VEC			acc1 = {0}; \
	VEC			x, y; \
	float		tail = 0.0f; \
	int			i = 0; \
	for (; i + 2 * width <= n; i += 2 * width) \
	{ \
		memcpy(&x, a + i, sizeof(VEC)); \
		memcpy(&y, b + i, sizeof(VEC)); \
		acc0 += STEP(x, y); \
		memcpy(&x, a + i + width, sizeof(VEC)); \
		memcpy(&y, b + i + width, sizeof(VEC)); \
		acc1 += STEP(x, y); \
	} \
	for (; i + width <= n; i += width) \
	{ \
		memcpy(&x, a + i, sizeof(VEC)); \
		memcpy(&y, b + i, sizeof(VEC)); \
		acc0 += STEP(x, y); \
	} \
	for (; i < n; i++) \
		tail += TERM(a[i], b[i]); \
	return sum_lanes((const float *) &acc0, (const float *) &acc1, width) + tail

#define SQUARED_DIFFERENCE(x, y) (((x) - (y)) * ((x) - (y)))
#define PRODUCT(x, y) ((x) * (y))
#define ABS_DIFFERENCE(x, y) fabsf((x) - (y))

/*
 * DEFINE_KERNELS(suffix, attributes, vector type, integer vector type)
 * emits the three loops for one instruction set and the table naming them.
 */
#define DEFINE_KERNELS(SUFFIX, ATTR, VEC, VEC_INT) \
static ATTR float \
l2_squared_##SUFFIX(const float *a, const float *b, int n) \
{ \
	KERNEL_BODY(VEC, SQUARED_DIFFERENCE, SQUARED_DIFFERENCE); \
} \
static ATTR float \
dot_##SUFFIX(const float *a, const float *b, int n) \
{ \
	KERNEL_BODY(VEC, PRODUCT, PRODUCT); \
} \
static ATTR float \
l1_##SUFFIX(const float *a, const float *b, int n) \
{ \
	const VEC_INT magnitude = (VEC_INT) {0} + 0x7fffffff; \
	KERNEL_BODY(VEC, ABS_DIFFERENCE_##SUFFIX, ABS_DIFFERENCE); \
} \
static const DistanceKernels kernels_##SUFFIX = { \
	#SUFFIX, l2_squared_##SUFFIX, dot_##SUFFIX, l1_##SUFFIX \
};

/* |x - y| lane by lane: clear the sign bits */
#define ABS_DIFFERENCE_generic(x, y) ((lanes4) ((lanes4_int) ((x) - (y)) & magnitude))
#define ABS_DIFFERENCE_avx2(x, y) ((lanes8) ((lanes8_int) ((x) - (y)) & magnitude))
#define ABS_DIFFERENCE_avx512(x, y) ((lanes16) ((lanes16_int) ((x) - (y)) & magnitude))

#define NO_TARGET

DEFINE_KERNELS(generic, NO_TARGET, lanes4, lanes4_int)

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86_DISPATCH 1
DEFINE_KERNELS(avx2, __attribute__((target("avx2,fma"))), lanes8, lanes8_int)
DEFINE_KERNELS(avx512, __attribute__((target("avx512f,avx512vl,avx2,fma"))), lanes16, lanes16_int)
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
 * the similarity clamped to [-1, 1] against rounding.  Built from three
 * dot products so that an index holding each row's dot(row, row) computes
 * the very same value from one dot product per row.
 */
double
distance_cosine_from_dots(float dot, float norm_a_squared, float norm_b_squared)
{
	double		similarity = (double) dot /
		sqrt((double) norm_a_squared * (double) norm_b_squared);

	if (similarity > 1.0)
		similarity = 1.0;
	else if (similarity < -1.0)
		similarity = -1.0;
	return 1.0 - similarity;
}

double
distance_cosine(const float *a, const float *b, int n)
{
	return distance_cosine_from_dots(distance_kernels->dot(a, b, n),
									 distance_kernels->dot(a, a, n),
									 distance_kernels->dot(b, b, n));
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
