/*
 * utils/keys.cuh
 *	  The 64-bit candidate key every kernel selects on.
 *
 * High half: an order-preserving image of the fp32 distance (every NaN is
 * canonicalised and sorts after +inf); low half: the row number.  So keys
 * compare as (distance, row), ties break by row number, and every key is
 * unique, which the rank merge of the warp lists relies on.
 */
#ifndef HS_UTILS_KEYS_CUH
#define HS_UTILS_KEYS_CUH

#include <cuda_runtime.h>

typedef unsigned long long u64;

/* an empty slot: above every real key */
#define KEY_EMPTY	0xFFFFFFFFFFFFFFFFull

/* fp32 -> unsigned int, monotonic; NaN maps above +inf */
static __device__ __forceinline__ unsigned int
f2ord(float f)
{
	unsigned int u = __float_as_uint(f);

	if (f != f)
		u = 0x7fc00000u;		/* every NaN sorts last, after +inf */
	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static __device__ __forceinline__ u64
make_key(float d, unsigned int id)
{
	return ((u64) f2ord(d) << 32) | (u64) id;
}

/* the inverse of f2ord (NaN comes back as the canonical NaN) */
static __device__ __forceinline__ float
ord2f(unsigned int o)
{
	unsigned int u = (o & 0x80000000u) ? (o & 0x7fffffffu) : ~o;

	return __uint_as_float(u);
}

#endif							/* HS_UTILS_KEYS_CUH */
