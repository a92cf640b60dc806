/*
 * distance_half.c
 *	  fp16 fast-pass kernels: portable C, and F16C conversions with AVX2+FMA
 *	  or AVX-512 where the CPU has them.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "type/distance_half.h"

/* Largest power of two that keeps every element below 2^15 in magnitude. */
float
half_row_scale(const float *row, int n)
{
	float		max_abs = 0.0f;
	int			exponent;

	for (int i = 0; i < n; i++)
		if (fabsf(row[i]) > max_abs)
			max_abs = fabsf(row[i]);
	if (max_abs == 0.0f)
		return 1.0f;
	frexpf(max_abs, &exponent);	/* max_abs < 2^exponent */
	return ldexpf(1.0f, 15 - exponent);
}

/* The float an IEEE half stands for, exactly. */
float
half_to_float(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	exponent = (h >> 10) & 0x1f;
	uint32_t	mantissa = h & 0x3ff;
	float		result;
	uint32_t	bits;

	if (exponent == 0)
	{
		result = ldexpf((float) mantissa, -24);
		return sign ? -result : result;
	}
	if (exponent == 31)
		bits = sign | 0x7f800000 | (mantissa << 13);
	else
		bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
	memcpy(&result, &bits, sizeof(result));
	return result;
}

/*
 * The IEEE half nearest value, ties to even; magnitudes from 65520 up
 * become infinity, NaN stays NaN.
 */
uint16_t
float_to_half(float value)
{
	uint32_t	bits;
	uint32_t	sign;
	int			exponent;
	float		magnitude = fabsf(value);

	memcpy(&bits, &value, sizeof(bits));
	sign = (bits >> 16) & 0x8000;
	if (isnan(value))
		return (uint16_t) (sign | 0x7e00);
	if (magnitude >= 65520.0f)
		return (uint16_t) (sign | 0x7c00);
	if (magnitude < 6.103515625e-05f)	/* subnormal in fp16: multiples of 2^-24 */
		return (uint16_t) (sign | (uint16_t) nearbyintf(magnitude * 16777216.0f));
	frexpf(magnitude, &exponent);	/* magnitude in [2^(e-1), 2^e) */
	{
		/* 11 significant bits: round to a multiple of 2^(e-11) */
		float		rounded = ldexpf(nearbyintf(ldexpf(magnitude, 11 - exponent)), exponent - 11);
		uint32_t	rbits;

		memcpy(&rbits, &rounded, sizeof(rbits));
		return (uint16_t) (sign | ((((rbits >> 23) & 0xff) - 112) << 10) | ((rbits >> 13) & 0x3ff));
	}
}

/*
 * The fp32 values an fp16 row stands for: h[i] * inv_scale.  Conversion is
 * exact and the product rounds once, so every kernel gives the same bits.
 */
void
half_row_to_float(const uint16_t *h, float inv_scale, float *dst, int n)
{
	half_kernels->to_float(h, inv_scale, dst, n);
}

static void
to_float_portable(const uint16_t *h, float inv_scale, float *dst, int n)
{
	for (int i = 0; i < n; i++)
		dst[i] = half_to_float(h[i]) * inv_scale;
}

static float
dot_portable(const float *q, const uint16_t *h, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += q[i] * half_to_float(h[i]);
	return sum;
}

static float
l2_squared_portable(const float *q, const uint16_t *h, float inv_scale, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
	{
		float		d = q[i] - half_to_float(h[i]) * inv_scale;

		sum += d * d;
	}
	return sum;
}

static float
l1_portable(const float *q, const uint16_t *h, float inv_scale, int n)
{
	float		sum = 0.0f;

	for (int i = 0; i < n; i++)
		sum += fabsf(q[i] - half_to_float(h[i]) * inv_scale);
	return sum;
}

static void
to_half_portable(const float *src, float scale, uint16_t *dst, int n)
{
	for (int i = 0; i < n; i++)
		dst[i] = float_to_half(src[i] * scale);
}

static const HalfKernels half_portable = {
	"portable", dot_portable, l2_squared_portable, l1_portable, to_half_portable,
	to_float_portable
};

const HalfKernels *half_kernels = &half_portable;

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define F16C_TARGET __attribute__((target("avx2,fma,f16c")))

static F16C_TARGET inline __m256
load_half8(const uint16_t *h)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) h));
}

static F16C_TARGET float
sum8(__m256 v)
{
	__m128		s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

static F16C_TARGET float
dot_f16c(const float *q, const uint16_t *h, int n)
{
	__m256		acc0 = _mm256_setzero_ps(),
				acc1 = _mm256_setzero_ps();
	int			i = 0;
	float		tail = 0.0f;

	for (; i + 16 <= n; i += 16)
	{
		acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load_half8(h + i), acc0);
		acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), load_half8(h + i + 8), acc1);
	}
	for (; i < n; i++)
		tail += q[i] * _cvtsh_ss(h[i]);
	return sum8(_mm256_add_ps(acc0, acc1)) + tail;
}

/* sum of (q[i] - h[i] * inv_scale)^2, or of its absolute values */
static F16C_TARGET inline float
difference_sum_f16c(const float *q, const uint16_t *h, float inv_scale, int n, bool squared)
{
	__m256		scale = _mm256_set1_ps(inv_scale);
	__m256		sign_mask = _mm256_set1_ps(-0.0f);
	__m256		acc0 = _mm256_setzero_ps(),
				acc1 = _mm256_setzero_ps();
	int			i = 0;
	float		tail = 0.0f;

	for (; i + 16 <= n; i += 16)
	{
		__m256		d0 = _mm256_fnmadd_ps(load_half8(h + i), scale, _mm256_loadu_ps(q + i));
		__m256		d1 = _mm256_fnmadd_ps(load_half8(h + i + 8), scale, _mm256_loadu_ps(q + i + 8));

		if (squared)
		{
			acc0 = _mm256_fmadd_ps(d0, d0, acc0);
			acc1 = _mm256_fmadd_ps(d1, d1, acc1);
		}
		else
		{
			acc0 = _mm256_add_ps(acc0, _mm256_andnot_ps(sign_mask, d0));
			acc1 = _mm256_add_ps(acc1, _mm256_andnot_ps(sign_mask, d1));
		}
	}
	for (; i < n; i++)
	{
		float		d = q[i] - _cvtsh_ss(h[i]) * inv_scale;

		tail += squared ? d * d : fabsf(d);
	}
	return sum8(_mm256_add_ps(acc0, acc1)) + tail;
}

static F16C_TARGET float
l2_squared_f16c(const float *q, const uint16_t *h, float inv_scale, int n)
{
	return difference_sum_f16c(q, h, inv_scale, n, true);
}

static F16C_TARGET float
l1_f16c(const float *q, const uint16_t *h, float inv_scale, int n)
{
	return difference_sum_f16c(q, h, inv_scale, n, false);
}

static F16C_TARGET void
to_half_f16c(const float *src, float scale, uint16_t *dst, int n)
{
	__m256		s = _mm256_set1_ps(scale);
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *) (dst + i),
						 _mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(src + i), s),
										 _MM_FROUND_TO_NEAREST_INT));
	for (; i < n; i++)
		dst[i] = _cvtss_sh(src[i] * scale, _MM_FROUND_TO_NEAREST_INT);
}

static F16C_TARGET void
to_float_f16c(const uint16_t *h, float inv_scale, float *dst, int n)
{
	__m256		s = _mm256_set1_ps(inv_scale);
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dst + i, _mm256_mul_ps(load_half8(h + i), s));
	for (; i < n; i++)
		dst[i] = _cvtsh_ss(h[i]) * inv_scale;
}

static const HalfKernels half_f16c = {
	"f16c", dot_f16c, l2_squared_f16c, l1_f16c, to_half_f16c, to_float_f16c
};
#endif

void
distance_half_init(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	/* every CPU with AVX2 also has F16C */
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		half_kernels = &half_f16c;
#endif
}
