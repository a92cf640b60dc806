/*
 * gen_copy_binary.c
 *	  Writes rows (id int4, embedding vector(DIMS) or halfvec(DIMS)) of
 *	  pseudo-random values to stdout, as PostgreSQL's binary COPY format, so
 *	  that several of them can feed COPY ... FROM STDIN (FORMAT binary) in
 *	  parallel with no data file on disk (test/gpu/bench-large.sh):
 *
 *	  gen_copy_binary vector|halfvec DIMS FIRST_ID COUNT SEED [text]
 *
 * Ids run from FIRST_ID; values are uniform in [-0.5, 0.5), rounded to
 * fp16 for halfvec, and depend only on SEED and the row's id: a table is
 * the same however its ids are split between streams.  With "text" the same
 * rows come out in COPY's text format, to check the binary form against
 * the server's text input.
 *
 * The binary form of both types is pgvector's: int16 dimensions, int16
 * zero, then the values (float4 or IEEE fp16), big-endian like every field
 * of binary COPY.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char copy_signature[11] = "PGCOPY\n\377\r\n";

static uint64_t
splitmix64(uint64_t *state)
{
	uint64_t	z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform in [-0.5, 0.5), a multiple of 2^-24 */
static float
next_value(uint64_t *state)
{
	return (float) (splitmix64(state) >> 40) * (1.0f / 16777216.0f) - 0.5f;
}

/*
 * The IEEE fp16 nearest to a float well inside fp16's range (|f| < 1 here),
 * ties to even; subnormals included.
 */
static uint16_t
float_to_half(float f)
{
	uint32_t	bits;
	uint16_t	sign;
	int			exponent;
	uint32_t	mantissa;
	int			shift;
	uint32_t	half;
	uint32_t	rest;
	uint32_t	halfway;

	memcpy(&bits, &f, sizeof(bits));
	sign = (uint16_t) ((bits >> 16) & 0x8000);
	exponent = (int) ((bits >> 23) & 0xff) - 127 + 15;
	mantissa = (bits & 0x7fffff) | 0x800000;	/* the implicit bit */
	if ((bits & 0x7fffffff) == 0)
		return sign;
	/* 13 bits drop for a normal fp16, more below its smallest exponent */
	shift = exponent >= 1 ? 13 : 14 - exponent;
	if (shift > 24)
		return sign;
	half = mantissa >> shift;
	rest = mantissa & ((1u << shift) - 1);
	halfway = 1u << (shift - 1);
	if (rest > halfway || (rest == halfway && (half & 1)))
		half++;
	/* a normal's implicit bit lands in the exponent field: add exponent - 1 */
	if (exponent >= 1)
		half += (uint32_t) (exponent - 1) << 10;
	return (uint16_t) (sign | half);
}

static float
half_to_float(uint16_t h)
{
	int			exponent = (h >> 10) & 0x1f;
	float		magnitude;

	if (exponent == 0)
		magnitude = (float) (h & 0x3ff) * (1.0f / 16777216.0f);
	else
	{
		uint32_t	bits = (uint32_t) (exponent - 15 + 127) << 23 | (uint32_t) (h & 0x3ff) << 13;

		memcpy(&magnitude, &bits, sizeof(magnitude));
	}
	return (h & 0x8000) ? -magnitude : magnitude;
}

static void
put_be(unsigned char **out, uint32_t value, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		*(*out)++ = (unsigned char) (value >> (8 * i));
}

/* One row in binary COPY: field count, then each field's length and bytes. */
static size_t
binary_row(unsigned char *row, int32_t id, const uint32_t *bits, int dims, int half)
{
	unsigned char *out = row;
	int			value_bytes = half ? 2 : 4;

	put_be(&out, 2, 2);
	put_be(&out, 4, 4);
	put_be(&out, (uint32_t) id, 4);
	put_be(&out, (uint32_t) (4 + value_bytes * dims), 4);
	put_be(&out, (uint32_t) dims, 2);
	put_be(&out, 0, 2);
	for (int i = 0; i < dims; i++)
		put_be(&out, bits[i], value_bytes);
	return (size_t) (out - row);
}

/* The same row in COPY's text format; %.9g gives a float back exactly. */
static void
text_row(int32_t id, const uint32_t *bits, int dims, int half)
{
	printf("%d\t[", id);
	for (int i = 0; i < dims; i++)
	{
		float		value;

		if (half)
			value = half_to_float((uint16_t) bits[i]);
		else
			memcpy(&value, &bits[i], sizeof(value));
		printf(i ? ",%.9g" : "%.9g", value);
	}
	printf("]\n");
}

int
main(int argc, char **argv)
{
	int			half;
	int			dims;
	long long	first_id;
	long long	count;
	uint64_t	seed;
	int			text;
	uint32_t   *bits;
	unsigned char *row;

	if (argc < 6 || argc > 7 ||
		(strcmp(argv[1], "vector") != 0 && strcmp(argv[1], "halfvec") != 0) ||
		(argc == 7 && strcmp(argv[6], "text") != 0))
	{
		fprintf(stderr, "usage: %s vector|halfvec DIMS FIRST_ID COUNT SEED [text]\n", argv[0]);
		return 2;
	}
	half = strcmp(argv[1], "halfvec") == 0;
	dims = atoi(argv[2]);
	first_id = atoll(argv[3]);
	count = atoll(argv[4]);
	seed = strtoull(argv[5], NULL, 10);
	text = argc == 7;
	if (dims < 1 || dims > 16000 || first_id < 0 || count < 0 || first_id + count > INT32_MAX)
	{
		fprintf(stderr, "%s: dimensions 1 to 16000, ids within int4\n", argv[0]);
		return 2;
	}
	bits = malloc(sizeof(uint32_t) * dims);
	row = malloc(16 + 4 * (size_t) dims);
	if (bits == NULL || row == NULL)
	{
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		return 1;
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	if (!text)
	{
		unsigned char header[19];
		unsigned char *out = header + sizeof(copy_signature);

		memcpy(header, copy_signature, sizeof(copy_signature));
		put_be(&out, 0, 4);		/* flags */
		put_be(&out, 0, 4);		/* header extension length */
		fwrite(header, 1, sizeof(header), stdout);
	}
	for (long long id = first_id; id < first_id + count; id++)
	{
		uint64_t	state = seed * 0x2545f4914f6cdd1dULL + (uint64_t) id;

		for (int i = 0; i < dims; i++)
		{
			float		value = next_value(&state);

			if (half)
				bits[i] = float_to_half(value);
			else
				memcpy(&bits[i], &value, sizeof(value));
		}
		if (text)
			text_row((int32_t) id, bits, dims, half);
		else
			fwrite(row, 1, binary_row(row, (int32_t) id, bits, dims, half), stdout);
	}
	if (!text)
		fwrite("\377\377", 1, 2, stdout);	/* the trailer: field count -1 */
	if (fflush(stdout) != 0 || ferror(stdout))
	{
		perror(argv[0]);
		return 1;
	}
	return 0;
}
