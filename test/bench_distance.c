/*
 * bench_distance.c
 *	  Micro-benchmark of the distance kernels in src/distance.c.
 *
 * For every kernel variant this CPU runs (distance_kernel_variants()) and
 * every metric, times a full pass computing the distance from one query to
 * every row of an N x D float matrix, and sets it against the memory
 * bandwidth measured in the same run: a plain single-thread vectorised read
 * of the same matrix (the floor a memory-bound kernel can reach) and a
 * memcpy of it.  A second, small matrix that stays in cache shows the
 * compute ceiling of the kernels.  Every variant's results are checked
 * against a double-precision reference.
 *
 * Single-threaded by design: it measures one backend's scan, not the
 * machine.
 *
 * Build and run:  make bench-distance
 *   or            make test/bench_distance && ./test/bench_distance -h
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "type/distance.h"

#define MAX_VARIANTS 8
#define MAX_REPEATS 101
#define TOLERANCE 1e-4
/* A timed sample lasts at least this long; short passes are repeated. */
#define MIN_SAMPLE_SECONDS 0.02

enum
{
	BM_L2,
	BM_DOT,
	BM_L1,
	BM_COUNT
};

static const char *const metric_names[BM_COUNT] = {
	"l2_squared", "dot", "l1"
};

/* Results of one pass, one slot per row. */
typedef struct Outputs
{
	float	   *l2;
	float	   *dot;
	float	   *l1;
} Outputs;

/*
 * Double-precision reference per row.  dot_abs is the sum of |a_i * b_i|,
 * the scale the error of a float dot product is relative to (the dot
 * itself can cancel to near zero); for the other sums every term is
 * non-negative, so their scale is the value itself.
 */
typedef struct Reference
{
	double	   *l2;
	double	   *dot;
	double	   *dot_abs;
	double	   *l1;
} Reference;

static volatile double sink;

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void *
xalloc(size_t bytes)
{
	void	   *p = NULL;

	if (posix_memalign(&p, 4096, bytes ? bytes : 1) != 0)
	{
		fprintf(stderr, "bench_distance: out of memory (%zu bytes)\n", bytes);
		exit(2);
	}
	return p;
}

static int
compare_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof(double), compare_double);
	return (n % 2) ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* splitmix64; uniform floats in [-1, 1). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng_next(void)
{
	uint64_t	z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
fill_random(float *x, size_t n)
{
	size_t		i = 0;

	for (; i + 1 < n; i += 2)
	{
		uint64_t	r = rng_next();

		x[i] = (float) ((int32_t) (uint32_t) r) * (1.0f / 2147483648.0f);
		x[i + 1] = (float) ((int32_t) (uint32_t) (r >> 32)) * (1.0f / 2147483648.0f);
	}
	if (i < n)
		x[i] = (float) ((int32_t) (uint32_t) rng_next()) * (1.0f / 2147483648.0f);
}

/*
 * Plain read of a buffer: a sum into eight independent vector accumulators
 * (GCC vector extensions, so they stay in registers), VBYTES wide.
 * Compiled for the baseline (-O2 -ftree-vectorize, SSE2, 16-byte vectors)
 * and, where the CPU runs them, for AVX2 (32 bytes) and AVX-512 (64
 * bytes); the fastest is the single-thread memory-bandwidth floor.
 */
#define DEFINE_READ(SUFFIX, ATTR, VBYTES) \
static ATTR float \
read_sum_##SUFFIX(const float *x, size_t n) \
{ \
	typedef float vec __attribute__((vector_size(VBYTES))); \
	const size_t w = VBYTES / sizeof(float); \
	vec			a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, \
				a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0}, \
				t0, t1, t2, t3, t4, t5, t6, t7; \
	float		total = 0.0f; \
	size_t		i = 0; \
	for (; i + 8 * w <= n; i += 8 * w) \
	{ \
		memcpy(&t0, x + i, VBYTES); \
		memcpy(&t1, x + i + w, VBYTES); \
		memcpy(&t2, x + i + 2 * w, VBYTES); \
		memcpy(&t3, x + i + 3 * w, VBYTES); \
		memcpy(&t4, x + i + 4 * w, VBYTES); \
		memcpy(&t5, x + i + 5 * w, VBYTES); \
		memcpy(&t6, x + i + 6 * w, VBYTES); \
		memcpy(&t7, x + i + 7 * w, VBYTES); \
		a0 += t0; a1 += t1; a2 += t2; a3 += t3; \
		a4 += t4; a5 += t5; a6 += t6; a7 += t7; \
	} \
	for (; i < n; i++) \
		total += x[i]; \
	a0 += a1 + a2 + a3 + a4 + a5 + a6 + a7; \
	for (size_t j = 0; j < w; j++) \
		total += a0[j]; \
	return total; \
}

#define NO_TARGET
DEFINE_READ(generic, NO_TARGET, 16)

typedef struct ReadVariant
{
	const char *name;
	float		(*fn) (const float *x, size_t n);
} ReadVariant;

#if defined(__x86_64__) && defined(__GNUC__)
DEFINE_READ(avx2, __attribute__((target("avx2"))), 32)
DEFINE_READ(avx512, __attribute__((target("avx512f,avx512vl,avx2"))), 64)
#endif

static int
read_variants(ReadVariant *out)
{
	int			count = 0;

	out[count].name = "generic";
	out[count++].fn = read_sum_generic;
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2"))
	{
		out[count].name = "avx2";
		out[count++].fn = read_sum_avx2;
	}
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
	{
		out[count].name = "avx512";
		out[count++].fn = read_sum_avx512;
	}
#endif
	return count;
}

/* One pass: the distance from the query to each of the rows. */
static void
run_pass(const DistanceKernels *k, int metric, const float *query,
		 const float *matrix, long rows, int dim, Outputs *out)
{
	long		r;

	switch (metric)
	{
		case BM_L2:
			for (r = 0; r < rows; r++)
				out->l2[r] = k->l2_squared(query, matrix + (size_t) r * dim, dim);
			break;
		case BM_DOT:
			for (r = 0; r < rows; r++)
				out->dot[r] = k->dot(query, matrix + (size_t) r * dim, dim);
			break;
		case BM_L1:
			for (r = 0; r < rows; r++)
				out->l1[r] = k->l1(query, matrix + (size_t) r * dim, dim);
			break;
	}
}

/*
 * Median seconds per pass over `repeats` samples.  One untimed pass warms
 * up; a sample repeats the pass until it lasts MIN_SAMPLE_SECONDS, so
 * in-cache passes of a fraction of a millisecond time cleanly.
 */
static double
time_kernel(const DistanceKernels *k, int metric, const float *query,
			const float *matrix, long rows, int dim, Outputs *out,
			int repeats)
{
	double		samples[MAX_REPEATS];
	double		t0,
				once;
	int			passes;

	t0 = now_seconds();
	run_pass(k, metric, query, matrix, rows, dim, out);
	once = now_seconds() - t0;
	passes = once >= MIN_SAMPLE_SECONDS ? 1 :
		(int) ceil(MIN_SAMPLE_SECONDS / (once > 1e-9 ? once : 1e-9));

	for (int s = 0; s < repeats; s++)
	{
		t0 = now_seconds();
		for (int p = 0; p < passes; p++)
			run_pass(k, metric, query, matrix, rows, dim, out);
		samples[s] = (now_seconds() - t0) / passes;
	}
	return median(samples, repeats);
}

static double
time_read(const ReadVariant *v, const float *x, size_t n, int repeats)
{
	double		samples[MAX_REPEATS];
	double		t0,
				once;
	double		total = 0.0;
	int			passes;

	t0 = now_seconds();
	total += v->fn(x, n);
	once = now_seconds() - t0;
	passes = once >= MIN_SAMPLE_SECONDS ? 1 :
		(int) ceil(MIN_SAMPLE_SECONDS / (once > 1e-9 ? once : 1e-9));

	for (int s = 0; s < repeats; s++)
	{
		t0 = now_seconds();
		for (int p = 0; p < passes; p++)
			total += v->fn(x, n);
		samples[s] = (now_seconds() - t0) / passes;
	}
	sink = total;
	return median(samples, repeats);
}

static double
time_memcpy(unsigned char *dst, const unsigned char *src, size_t bytes,
			int repeats)
{
	double		samples[MAX_REPEATS];
	double		t0;
	double		total = 0.0;

	memcpy(dst, src, bytes);	/* warm-up; dst already faulted in */
	for (int s = 0; s < repeats; s++)
	{
		t0 = now_seconds();
		memcpy(dst, src, bytes);
		samples[s] = now_seconds() - t0;
		total += dst[(size_t) s * 4099 % bytes];
	}
	sink = total;
	return median(samples, repeats);
}

static void
compute_reference(const float *query, const float *matrix, long rows,
				  int dim, Reference *ref)
{
	for (long r = 0; r < rows; r++)
	{
		const float *row = matrix + (size_t) r * dim;
		double		l2 = 0.0,
					dot = 0.0,
					dot_abs = 0.0,
					l1 = 0.0;

		for (int i = 0; i < dim; i++)
		{
			double		a = query[i];
			double		b = row[i];

			l2 += (a - b) * (a - b);
			dot += a * b;
			dot_abs += fabs(a * b);
			l1 += fabs(a - b);
		}
		ref->l2[r] = l2;
		ref->dot[r] = dot;
		ref->dot_abs[r] = dot_abs;
		ref->l1[r] = l1;
	}
}

static double
relative_error(float got, double want, double scale)
{
	double		err = fabs((double) got - want);

	if (scale > 0.0)
		err /= scale;
	return isnan(got) ? INFINITY : err;
}

/*
 * Largest relative error of one pass's results against the reference;
 * prints a FAIL line for each (of the first few) rows over the tolerance
 * and counts them in *failures.
 */
static double
check_pass(const char *label, const char *variant, int metric,
		   const Outputs *out, const Reference *ref, long rows, long *failures)
{
	double		worst = 0.0;

	for (long r = 0; r < rows; r++)
	{
		double		err = INFINITY;

		switch (metric)
		{
			case BM_L2:
				err = relative_error(out->l2[r], ref->l2[r], ref->l2[r]);
				break;
			case BM_DOT:
				err = relative_error(out->dot[r], ref->dot[r], ref->dot_abs[r]);
				break;
			case BM_L1:
				err = relative_error(out->l1[r], ref->l1[r], ref->l1[r]);
				break;
		}
		if (!(err <= TOLERANCE))
		{
			if (*failures < 10)
				printf("FAIL: %s %s %s row %ld: relative error %.3g > %.0e\n",
					   label, variant, metric_names[metric], r, err, TOLERANCE);
			(*failures)++;
		}
		if (err > worst || isnan(err))
			worst = err;
	}
	return worst;
}

static void
print_cpu(void)
{
	FILE	   *f = fopen("/proc/cpuinfo", "r");
	char		line[512];
	const char *model = "unknown";

	if (f)
	{
		while (fgets(line, sizeof(line), f))
		{
			if (strncmp(line, "model name", 10) == 0)
			{
				char	   *colon = strchr(line, ':');

				if (colon)
				{
					model = colon + 2;
					line[strcspn(line, "\n")] = '\0';
				}
				break;
			}
		}
		fclose(f);
	}
	printf("# CPU: %s, %ld logical CPUs online\n", model,
		   sysconf(_SC_NPROCESSORS_ONLN));
}

/* Pin to the CPU we are on, so the scheduler does not move us mid-sample. */
static int
pin_to_current_cpu(void)
{
	cpu_set_t	set;
	int			cpu = sched_getcpu();

	if (cpu < 0)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		return -1;
	return cpu;
}

static void
usage(const char *prog)
{
	fprintf(stderr,
			"usage: %s [-n rows] [-d dims] [-r repeats] [-s cache_rows]\n"
			"  -n rows        rows of the out-of-cache matrix (default 100000)\n"
			"  -d dims        dimensions per vector (default 768)\n"
			"  -r repeats     timed samples per figure, median reported (default 11)\n"
			"  -s cache_rows  rows of the in-cache matrix (default 1000; 0 skips)\n",
			prog);
}

static long
parse_long(const char *s, long min, long max, const char *what)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max)
	{
		fprintf(stderr, "bench_distance: bad %s \"%s\" (want %ld..%ld)\n",
				what, s, min, max);
		exit(2);
	}
	return v;
}

static void
print_table_header(void)
{
	printf("| %-12s | %-12s | %10s | %8s | %9s | %7s | %7s | %11s |\n",
		   "variant", "metric", "rows", "MB", "ms/pass", "GB/s",
		   "x read", "max rel err");
	printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n",
		   "--------------", "--------------", "-----------:", "---------:",
		   "----------:", "--------:", "--------:", "------------:");
}

static void
print_row(const char *variant, const char *metric, long rows, double bytes,
		  double seconds, double floor_gbs, double max_err, int have_err)
{
	double		gbs = bytes / seconds * 1e-9;
	char		errbuf[32];

	if (have_err)
		snprintf(errbuf, sizeof(errbuf), "%.1e", max_err);
	else
		snprintf(errbuf, sizeof(errbuf), "-");
	printf("| %-12s | %-12s | %10ld | %8.1f | %9.4f | %7.2f | %7.2f | %11s |\n",
		   variant, metric, rows, bytes * 1e-6, seconds * 1e3, gbs,
		   floor_gbs > 0 ? gbs / floor_gbs : 0.0, errbuf);
}

int
main(int argc, char **argv)
{
	long		rows = 100000;
	long		cache_rows = 1000;
	int			dim = 768;
	int			repeats = 11;
	int			opt;
	const DistanceKernels *variants[MAX_VARIANTS];
	int			nvariants;
	ReadVariant reads[4];
	int			nreads;
	float	   *matrix,
			   *query;
	unsigned char *copy;
	size_t		nfloats,
				bytes;
	Outputs		out;
	Reference	ref;
	double		read_seconds[4];
	double		floor_gbs = 0.0;
	const char *floor_name = "";
	double		copy_seconds;
	long		failures = 0;
	int			cpu;
	double		start = now_seconds();

	while ((opt = getopt(argc, argv, "n:d:r:s:h")) != -1)
	{
		switch (opt)
		{
			case 'n':
				rows = parse_long(optarg, 1, 100000000, "row count");
				break;
			case 'd':
				dim = (int) parse_long(optarg, 1, 1000000, "dimension");
				break;
			case 'r':
				repeats = (int) parse_long(optarg, 1, MAX_REPEATS, "repeat count");
				break;
			case 's':
				cache_rows = parse_long(optarg, 0, 100000000, "in-cache row count");
				break;
			default:
				usage(argv[0]);
				return opt == 'h' ? 0 : 2;
		}
	}
	if (optind < argc)
	{
		usage(argv[0]);
		return 2;
	}
	if (cache_rows > rows)
		cache_rows = rows;

	nvariants = distance_kernel_variants(variants, MAX_VARIANTS);
	nreads = read_variants(reads);
	nfloats = (size_t) rows * dim;
	bytes = nfloats * sizeof(float);

	/* Everything is faulted in here, before any timing. */
	matrix = xalloc(bytes);
	query = xalloc((size_t) dim * sizeof(float));
	copy = xalloc(bytes);
	memset(copy, 0, bytes);
	fill_random(query, dim);
	fill_random(matrix, nfloats);
	out.l2 = xalloc(rows * sizeof(float));
	out.dot = xalloc(rows * sizeof(float));
	out.l1 = xalloc(rows * sizeof(float));
	ref.l2 = xalloc(rows * sizeof(double));
	ref.dot = xalloc(rows * sizeof(double));
	ref.dot_abs = xalloc(rows * sizeof(double));
	ref.l1 = xalloc(rows * sizeof(double));
	compute_reference(query, matrix, rows, dim, &ref);

	cpu = pin_to_current_cpu();

	printf("# hybridsearch distance micro-benchmark (test/bench_distance.c)\n");
	print_cpu();
	if (cpu >= 0)
		printf("# single-threaded, pinned to CPU %d; the other CPUs are idle\n", cpu);
	else
		printf("# single-threaded (not pinned); the other CPUs are idle\n");
	printf("# matrix: %ld rows x %d dims float32 = %.1f MB, uniform in [-1, 1); "
		   "in-cache matrix: first %ld rows = %.2f MB\n",
		   rows, dim, (double) bytes * 1e-6, cache_rows,
		   (double) cache_rows * dim * sizeof(float) * 1e-6);
	printf("# each figure: median of %d samples (clock_gettime MONOTONIC); "
		   "a sample is >= %.0f ms, passes repeated as needed\n",
		   repeats, MIN_SAMPLE_SECONDS * 1e3);
	printf("# GB/s = bytes of the matrix read / time (1 GB = 1e9 B); "
		   "x read = GB/s / single-thread read bandwidth below\n");
	printf("# kernel variants this CPU runs:");
	for (int v = 0; v < nvariants; v++)
		printf(" %s", variants[v]->name);
	printf(" (server default: the last)\n\n");

	/* Memory bandwidth, same buffer, same run. */
	printf("## Memory bandwidth (single thread, %.1f MB buffer)\n\n", (double) bytes * 1e-6);
	print_table_header();
	for (int v = 0; v < nreads; v++)
	{
		read_seconds[v] = time_read(&reads[v], matrix, nfloats, repeats);
		if ((double) bytes / read_seconds[v] * 1e-9 > floor_gbs)
		{
			floor_gbs = (double) bytes / read_seconds[v] * 1e-9;
			floor_name = reads[v].name;
		}
	}
	for (int v = 0; v < nreads; v++)
	{
		char		name[32];

		snprintf(name, sizeof(name), "read %s", reads[v].name);
		print_row(name, "sum", rows, (double) bytes, read_seconds[v],
				  floor_gbs, 0.0, 0);
	}
	copy_seconds = time_memcpy(copy, (const unsigned char *) matrix, bytes, repeats);
	print_row("memcpy", "copy", rows, (double) bytes, copy_seconds,
			  floor_gbs, 0.0, 0);
	printf("\nread floor: %.2f GB/s (read %s); memcpy moves %.2f GB/s "
		   "(counting bytes copied; the bus also carries the writes)\n\n",
		   floor_gbs, floor_name, (double) bytes / copy_seconds * 1e-9);
	free(copy);

	/* Out of cache: the full matrix. */
	printf("## Out of cache: %ld x %d (%.1f MB)\n\n", rows, dim, (double) bytes * 1e-6);
	print_table_header();
	for (int v = 0; v < nvariants; v++)
	{
		for (int m = 0; m < BM_COUNT; m++)
		{
			double		secs = time_kernel(variants[v], m, query, matrix,
										   rows, dim, &out, repeats);
			double		err = check_pass("out-of-cache", variants[v]->name, m,
										 &out, &ref, rows, &failures);

			print_row(variants[v]->name, metric_names[m], rows,
					  (double) bytes, secs, floor_gbs, err, 1);
		}
	}

	/* In cache: the first rows only, read over and over. */
	if (cache_rows > 0)
	{
		size_t		cache_floats = (size_t) cache_rows * dim;
		double		cache_bytes = (double) cache_floats * sizeof(float);

		printf("\n## In cache: %ld x %d (%.2f MB), compute ceiling\n\n",
			   cache_rows, dim, cache_bytes * 1e-6);
		print_table_header();
		for (int v = 0; v < nreads; v++)
		{
			char		name[32];

			snprintf(name, sizeof(name), "read %s", reads[v].name);
			print_row(name, "sum", cache_rows, cache_bytes,
					  time_read(&reads[v], matrix, cache_floats, repeats),
					  floor_gbs, 0.0, 0);
		}
		for (int v = 0; v < nvariants; v++)
		{
			for (int m = 0; m < BM_COUNT; m++)
			{
				double		secs = time_kernel(variants[v], m, query, matrix,
											   cache_rows, dim, &out, repeats);
				double		err = check_pass("in-cache", variants[v]->name, m,
											 &out, &ref, cache_rows, &failures);

				print_row(variants[v]->name, metric_names[m], cache_rows,
						  cache_bytes, secs, floor_gbs, err, 1);
			}
		}
	}

	printf("\ncorrectness: %d variants x %d metrics against a double reference, "
		   "relative tolerance %.0e (dot: relative to sum |a_i*b_i|): %s\n",
		   nvariants, BM_COUNT, TOLERANCE, failures ? "FAIL" : "ok");
	printf("total run time %.1f s\n", now_seconds() - start);

	free(matrix);
	free(query);
	free(out.l2);
	free(out.dot);
	free(out.l1);
	free(ref.l2);
	free(ref.dot);
	free(ref.dot_abs);
	free(ref.l1);

	if (failures)
	{
		printf("FAIL: %ld results outside tolerance\n", failures);
		return 1;
	}
	return 0;
}
