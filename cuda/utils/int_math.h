/*
 * utils/int_math.h
 *	  Integer rounding for sizes and grids.
 */
#ifndef HS_UTILS_INT_MATH_H
#define HS_UTILS_INT_MATH_H

/* a / b rounded up */
static inline long long
ceil_div(long long a, long long b)
{
	return (a + b - 1) / b;
}

/* a rounded up to a multiple of b */
static inline long long
round_up(long long a, long long b)
{
	return ceil_div(a, b) * b;
}

#endif							/* HS_UTILS_INT_MATH_H */
