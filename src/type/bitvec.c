/*
 * bitvec.c
 *	  Distances over PostgreSQL's bit type (hamming, jaccard) and
 *	  binary_quantize(), which turns a vector or halfvec into a bit string:
 *	  pgvector's binary quantization.
 */
#include "postgres.h"

#include "port/pg_bitutils.h"
#include "utils/varbit.h"

#include "type/halfvec.h"
#include "type/vector.h"

PG_FUNCTION_INFO_V1(hamming_distance);
PG_FUNCTION_INFO_V1(jaccard_distance);
PG_FUNCTION_INFO_V1(binary_quantize);
PG_FUNCTION_INFO_V1(halfvec_binary_quantize);

static void
check_same_lengths(const VarBit *a, const VarBit *b)
{
	if (VARBITLEN(a) != VARBITLEN(b))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different bit lengths %u and %u",
						VARBITLEN(a), VARBITLEN(b))));
}

/* Bits set in a XOR b; the padding bits of a bit string are always zero. */
Datum
hamming_distance(PG_FUNCTION_ARGS)
{
	VarBit	   *a = PG_GETARG_VARBIT_P(0);
	VarBit	   *b = PG_GETARG_VARBIT_P(1);
	const bits8 *ax = VARBITS(a);
	const bits8 *bx = VARBITS(b);
	uint64		distance = 0;

	check_same_lengths(a, b);
	for (Size i = 0; i < VARBITBYTES(a); i++)
		distance += pg_number_of_ones[ax[i] ^ bx[i]];
	PG_RETURN_FLOAT8((double) distance);
}

/*
 * 1 - |a AND b| / |a OR b|; 1 when no bit is set in both (which includes
 * two empty sets), as in pgvector.
 */
Datum
jaccard_distance(PG_FUNCTION_ARGS)
{
	VarBit	   *a = PG_GETARG_VARBIT_P(0);
	VarBit	   *b = PG_GETARG_VARBIT_P(1);
	const bits8 *ax = VARBITS(a);
	const bits8 *bx = VARBITS(b);
	uint64		both = 0;
	uint64		either = 0;

	check_same_lengths(a, b);
	for (Size i = 0; i < VARBITBYTES(a); i++)
	{
		both += pg_number_of_ones[ax[i] & bx[i]];
		either += pg_number_of_ones[ax[i] | bx[i]];
	}
	if (both == 0)
		PG_RETURN_FLOAT8(1.0);
	PG_RETURN_FLOAT8(1.0 - (double) both / (double) either);
}

/* A zeroed bit string of length bits. */
static VarBit *
bit_string_new(int bits)
{
	int			size = VARBITTOTALLEN(bits);
	VarBit	   *result = (VarBit *) palloc0(size);

	SET_VARSIZE(result, size);
	VARBITLEN(result) = bits;
	return result;
}

/* Bit i (first bit the most significant of the first byte) set when x[i] > 0. */
static VarBit *
quantize(const float *x, int dim)
{
	VarBit	   *result = bit_string_new(dim);
	bits8	   *bits = VARBITS(result);

	for (int i = 0; i < dim; i++)
		if (x[i] > 0)
			bits[i / 8] |= (bits8) (0x80 >> (i % 8));
	return result;
}

Datum
binary_quantize(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_VARBIT_P(quantize(a->x, a->dim));
}

Datum
halfvec_binary_quantize(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	float	   *x = halfvec_to_floats(a);
	VarBit	   *result = quantize(x, a->dim);

	pfree(x);
	PG_RETURN_VARBIT_P(result);
}
