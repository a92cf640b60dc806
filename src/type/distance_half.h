/*
 * distance_half.h
 *	  Approximate distances against rows stored in IEEE half precision,
 *	  for the fast pass of precision = 'half' indexes.
 *
 * Each row is stored as fp16(x * scale) with a per-row power-of-two scale
 * that brings its largest element near the top of fp16's range, so no
 * element overflows and underflow is negligible; inv_scale (= 1 / scale)
 * is exact.  Results only pick candidates: the caller re-scores them with
 * the exact functions of distance.h.  Pure C, no PostgreSQL headers.
 */
#ifndef HYBRIDSEARCH_DISTANCE_HALF_H
#define HYBRIDSEARCH_DISTANCE_HALF_H

#include <stdint.h>

/* The largest finite and the smallest normal IEEE half value. */
#define HALF_MAX_VALUE 65504.0f
/* The smallest magnitude that rounds to infinity in half precision. */
#define HALF_OVERFLOW_AT 65520.0f
#define HALF_MIN_NORMAL 6.103515625e-05f

typedef struct HalfKernels
{
	const char *name;
	/* sum of q[i] * h[i] (the caller multiplies by inv_scale) */
	float		(*dot) (const float *q, const uint16_t *h, int n);
	/* sum of (q[i] - h[i] * inv_scale)^2 */
	float		(*l2_squared) (const float *q, const uint16_t *h, float inv_scale, int n);
	/* sum of |q[i] - h[i] * inv_scale| */
	float		(*l1) (const float *q, const uint16_t *h, float inv_scale, int n);
	/* dst[i] = fp16(src[i] * scale), rounding to nearest even */
	void		(*to_half) (const float *src, float scale, uint16_t *dst, int n);
	/* dst[i] = h[i] * inv_scale, exactly as half_to_float() then a product */
	void		(*to_float) (const uint16_t *h, float inv_scale, float *dst, int n);
} HalfKernels;

extern const HalfKernels *half_kernels;

extern void distance_half_init(void);
extern float half_to_float(uint16_t h);
extern uint16_t float_to_half(float value);
extern void half_row_to_float(const uint16_t *h, float inv_scale, float *dst, int n);
extern float half_row_scale(const float *row, int n);

#endif							/* HYBRIDSEARCH_DISTANCE_HALF_H */
