/*
 * kernel_check.c
 *	  Correctness check and timing of cuda/libhybridsearch_cuda.so, loaded
 *	  with dlopen() the way the GPU worker loads it.
 *
 *	  kernel_check [--lib PATH] [--groups ABCDEFG] [--reps N] [--tune-runs N]
 *	               [--graphs 0|1]
 *
 * --tune-runs N: each search adds at most N of its kind's tuning runs to
 * itself, as in the worker (hs_gpu_set_tune_runs; default 0 here: a kind
 * is tuned whole in its first search, so that timing groups time tuned
 * plans and group S runs every candidate under the sanitizers).
 * --graphs 0: every search call by call, none replayed as a CUDA graph
 * (hs_gpu_set_graphs; default 1), to time the difference.
 *
 * Groups:
 *   A  small matrices: rows 1, 7, k-1, k, k+1, 1000; dims 1 3 17 100 768
 *      4000 16000; batches 1 8 64 128; all metrics, fp32 and fp16, k 10/100
 *   B  100k rows, dims 1 3 768 4000
 *   C  1M rows, dims 3 and 768
 *   D  large k (1024 and HS_GPU_MAX_K) on 100k x 768
 *   E  argument errors, empty matrix, incremental append equivalence
 *   F  ties: quantized values, many equal distances
 *   G  searches replayed as CUDA graphs (GEMM plans over several chunks):
 *      the same answers, bit for bit, as call by call, after appends and
 *      after buffers were reallocated
 *   P  a matrix split in 2, 3 and (with more GPUs) one stripe per device,
 *      searched with hs_gpu_search_parts: rows 1 to 100k, the same checks
 *   M  timing of one part against 2 parts and one part per device
 *      (HS_PARTS_ROWS rows x 768, default 1M; median of --reps)
 *   T  timing of 1M x 768 fp32/fp16 searches against the read/copy floors
 *   O  one kind of search on 1M x 768, repeated --reps times after tuning,
 *      for a profiler (nsys, ncu): HS_O_HALF (0/1, default 1), HS_O_METRIC
 *      (1 l2, 2 negip, 3 cosine (default), 4 l1), HS_O_BATCH (default 1),
 *      HS_O_K (default 32)
 *   S  (s) small sets for compute-sanitizer (s: no autotuning, 3000 rows)
 *
 * Each search asks for kreq = 2k candidates; against a float64 CPU
 * reference the true top k must be among them, except rows whose exact
 * distance is within rounding tolerance of the last candidate's.  Every
 * returned distance must be within tolerance of the exact one, the list
 * ascending with NaN last, every slot written (outputs are poisoned first),
 * rows in range and distinct, and -1 / +inf only where fewer rows exist.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <omp.h>

#include "hs_gpu.h"

/* ---- the API through dlopen ---- */
static struct
{
	int			(*open) (int, char *, size_t);
	void		(*close) (void);
	int			(*device_count) (int *, char *, size_t);
	hs_gpu_matrix *(*create) (int, int, int, char *, size_t);
	int			(*append) (hs_gpu_matrix *, const float *, int64_t, char *, size_t);
	int64_t		(*rows) (const hs_gpu_matrix *);
	size_t		(*bytes) (const hs_gpu_matrix *);
	void		(*mfree) (hs_gpu_matrix *);
	int			(*search) (hs_gpu_matrix *, int, const float *, int, int, float *, int64_t *,
						   float *, char *, size_t);
	int			(*search_parts) (hs_gpu_matrix *const *, int, int, const float *, int, int, float *,
								 int64_t *, float *, char *, size_t);
	size_t		(*tune_report) (char *, size_t);
	size_t		(*last_variant) (char *, size_t);
	int			(*bench) (hs_gpu_matrix *, int, int, float *, float *, float *, char *, size_t);
	void		(*set_tune_runs) (int);	/* NULL in builds that tune in one search */
	void		(*set_graphs) (int);	/* NULL in builds without graphs */
} api;

static void *
sym(void *h, const char *name)
{
	void	   *p = dlsym(h, name);

	if (!p)
	{
		fprintf(stderr, "missing symbol %s: %s\n", name, dlerror());
		exit(2);
	}
	return p;
}

static void
load_api(const char *path)
{
	void	   *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (!h)
	{
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		exit(2);
	}
	*(void **) &api.open = sym(h, "hs_gpu_open");
	*(void **) &api.close = sym(h, "hs_gpu_close");
	*(void **) &api.device_count = sym(h, "hs_gpu_device_count");
	*(void **) &api.create = sym(h, "hs_gpu_matrix_create");
	*(void **) &api.append = sym(h, "hs_gpu_matrix_append");
	*(void **) &api.rows = sym(h, "hs_gpu_matrix_rows");
	*(void **) &api.bytes = sym(h, "hs_gpu_matrix_bytes");
	*(void **) &api.mfree = sym(h, "hs_gpu_matrix_free");
	*(void **) &api.search = sym(h, "hs_gpu_search");
	*(void **) &api.search_parts = sym(h, "hs_gpu_search_parts");
	*(void **) &api.tune_report = sym(h, "hs_gpu_tune_report");
	*(void **) &api.last_variant = sym(h, "hs_gpu_last_variant");
	*(void **) &api.bench = sym(h, "hs_gpu_matrix_bench");
	*(void **) &api.set_tune_runs = dlsym(h, "hs_gpu_set_tune_runs");
	*(void **) &api.set_graphs = dlsym(h, "hs_gpu_set_graphs");
}

/* ---- helpers ---- */
static const char *metric_name[] = {"", "l2", "negip", "cosine", "l1"};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline float
rnd(uint64_t seed, uint64_t i)
{
	uint64_t	z = seed * 0xD1B54A32D192ED03ull + (i + 1) * 0x9E3779B97F4A7C15ull;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return (float) ((double) (z >> 40) / 8388608.0 - 1.0);	/* [-1, 1) */
}

/* mode 0: uniform; mode 1: quantized to multiples of 0.5 (ties) */
static void
gen(float *dst, int64_t n, int dim, uint64_t seed, int mode)
{
	int64_t		total = n * (int64_t) dim;

#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < total; i++)
	{
		float		v = rnd(seed, (uint64_t) i);

		if (mode == 1)
			v = roundf(v * 2.0f) / 2.0f;
		dst[i] = v;
	}
}

typedef struct
{
	long		searches;
	long		checked;		/* queries compared with the reference */
	long		fails;
	long		tol_misses;		/* true neighbours outside, within tolerance */
	double		max_rel;		/* largest |gpu - exact| / tolerance */
} Stats;

static long total_fails = 0;

#define POISON_BITS 0x7fa5a5a5u
#define POISON_ROW	((int64_t) 0x5a5a5a5a5a5a5a5aLL)

static inline int
is_poison(float f)
{
	uint32_t	u;

	memcpy(&u, &f, 4);
	return u == POISON_BITS;
}

static void
report_fail(Stats *st, const char *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
report_fail(Stats *st, const char *ctx, const char *fmt, ...)
{
	va_list		ap;

	st->fails++;
	total_fails++;
	if (total_fails > 40 && st->fails > 3)
		return;
	printf("FAIL %s: ", ctx);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* exact distance in the raw domain (L2 squared), float64 */
static inline double
exact(int metric, const float *q, const float *r, int dim, double qn2, double rn2)
{
	double		acc = 0.0;

	switch (metric)
	{
		case HS_GPU_L2:
			for (int i = 0; i < dim; i++)
			{
				double		d = (double) q[i] - r[i];

				acc += d * d;
			}
			return acc;
		case HS_GPU_NEG_IP:
			for (int i = 0; i < dim; i++)
				acc += (double) q[i] * r[i];
			return -acc;
		case HS_GPU_COSINE:
			{
				double		sim;

				if (qn2 == 0.0 || rn2 == 0.0)
					return NAN;
				for (int i = 0; i < dim; i++)
					acc += (double) q[i] * r[i];
				sim = acc / sqrt(qn2 * rn2);
				if (sim > 1.0)
					sim = 1.0;
				if (sim < -1.0)
					sim = -1.0;
				return 1.0 - sim;
			}
		default:
			for (int i = 0; i < dim; i++)
				acc += fabs((double) q[i] - r[i]);
			return acc;
	}
}

/* tolerance scale: what rounding errors are proportional to */
static inline double
tol_scale(int metric, double qn2, double rn2, double ql1, double rl1)
{
	switch (metric)
	{
		case HS_GPU_L2:
			return qn2 + rn2;
		case HS_GPU_NEG_IP:
			return sqrt(qn2 * rn2);
		case HS_GPU_COSINE:
			return 1.0;
		default:
			return ql1 + rl1;
	}
}

typedef struct
{
	int64_t		n;
	int			dim;
	float	   *rows;			/* host copy */
	double	   *rn2;			/* squared norms */
	double	   *rl1;			/* L1 norms */
	hs_gpu_matrix *gm[2];		/* fp32, fp16 */
	int			nparts;			/* > 1: searched as these stripes (mat_split) */
	hs_gpu_matrix *parts[2][HS_GPU_MAX_PARTS];
} Mat;

static int	ndevices = 1;		/* devices opened */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a,
				y = *(const int64_t *) b;

	return x < y ? -1 : x > y;
}

/* reference order: NaN last, then by distance, then by row */
static inline int
ref_less(double a, int64_t ia, double b, int64_t ib)
{
	int			na = isnan(a),
				nb = isnan(b);

	if (na != nb)
		return nb;
	if (!na && a != b)
		return a < b;
	return ia < ib;
}

/* k smallest by ref_less, ascending, into idx[0..cnt) */
static int
ref_topk(const double *ex, int64_t n, int k, int64_t *idx)
{
	int			cnt = 0;

	/* max-heap on ref_less */
	for (int64_t i = 0; i < n; i++)
	{
		if (cnt < k)
		{
			int			c = cnt++;

			idx[c] = i;
			while (c > 0)
			{
				int			p = (c - 1) / 2;

				if (ref_less(ex[idx[p]], idx[p], ex[idx[c]], idx[c]))
				{
					int64_t		t = idx[p];

					idx[p] = idx[c];
					idx[c] = t;
					c = p;
				}
				else
					break;
			}
		}
		else if (ref_less(ex[i], i, ex[idx[0]], idx[0]))
		{
			int			c = 0;

			idx[0] = i;
			for (;;)
			{
				int			l = 2 * c + 1,
							r = l + 1,
							m = c;

				if (l < cnt && ref_less(ex[idx[m]], idx[m], ex[idx[l]], idx[l]))
					m = l;
				if (r < cnt && ref_less(ex[idx[m]], idx[m], ex[idx[r]], idx[r]))
					m = r;
				if (m == c)
					break;
				{
					int64_t		t = idx[m];

					idx[m] = idx[c];
					idx[c] = t;
				}
				c = m;
			}
		}
	}
	/* heap sort ascending */
	for (int end = cnt - 1; end > 0; end--)
	{
		int64_t		t = idx[0];
		int			c = 0;

		idx[0] = idx[end];
		idx[end] = t;
		for (;;)
		{
			int			l = 2 * c + 1,
						r = l + 1,
						m = c;

			if (l < end && ref_less(ex[idx[m]], idx[m], ex[idx[l]], idx[l]))
				m = l;
			if (r < end && ref_less(ex[idx[m]], idx[m], ex[idx[r]], idx[r]))
				m = r;
			if (m == c)
				break;
			{
				int64_t		u = idx[m];

				idx[m] = idx[c];
				idx[c] = u;
			}
			c = m;
		}
	}
	return cnt;
}

/* structure of one query's answer: slots, poison, range, duplicates, order */
static int
check_structure(Stats *st, const char *ctx, int64_t n, int kreq, const float *gd, const int64_t *gi)
{
	int			nret = n < kreq ? (int) n : kreq;
	int64_t    *s = malloc(sizeof(int64_t) * (size_t) kreq);
	int			bad = 0;

	for (int i = 0; i < kreq && !bad; i++)
	{
		if (is_poison(gd[i]) || gi[i] == POISON_ROW)
		{
			report_fail(st, ctx, "slot %d not written", i);
			bad = 1;
		}
		else if (i < nret && (gi[i] < 0 || gi[i] >= n))
		{
			report_fail(st, ctx, "slot %d row %lld out of range (n=%lld)", i, (long long) gi[i],
						(long long) n);
			bad = 1;
		}
		else if (i >= nret && (gi[i] != -1 || !(isinf(gd[i]) && gd[i] > 0)))
		{
			report_fail(st, ctx, "slot %d should be empty (row -1, +inf), got row %lld dist %g", i,
						(long long) gi[i], gd[i]);
			bad = 1;
		}
		else if (i > 0 && i < nret)
		{
			if (isnan(gd[i - 1]) && !isnan(gd[i]))
			{
				report_fail(st, ctx, "slot %d: NaN before a number", i);
				bad = 1;
			}
			else if (!isnan(gd[i - 1]) && !isnan(gd[i]) && gd[i] < gd[i - 1])
			{
				report_fail(st, ctx, "slot %d: not ascending (%.9g after %.9g)", i, gd[i], gd[i - 1]);
				bad = 1;
			}
		}
	}
	if (!bad)
	{
		memcpy(s, gi, sizeof(int64_t) * (size_t) nret);
		qsort(s, (size_t) nret, sizeof(int64_t), cmp_i64);
		for (int i = 1; i < nret; i++)
			if (s[i] == s[i - 1])
			{
				report_fail(st, ctx, "row %lld returned twice", (long long) s[i]);
				bad = 1;
				break;
			}
	}
	free(s);
	return bad;
}

/* against the float64 reference */
static void
check_reference(Stats *st, const char *ctx, const Mat *M, int metric, int half, const float *q,
				int kreq, int ktrue, const float *gd, const int64_t *gi)
{
	int64_t		n = M->n;
	int			dim = M->dim;
	int			nret = n < kreq ? (int) n : kreq;
	double	   *ex = malloc(sizeof(double) * (size_t) n);
	int64_t    *ref = malloc(sizeof(int64_t) * (size_t) ktrue);
	int64_t    *sorted = malloc(sizeof(int64_t) * (size_t) kreq);
	double		qn2 = 0,
				ql1 = 0;
	char		variant[128] = "";
	double		tolfac;
	int			nref;

	/* the GEMM path multiplies fp32 rows in TF32: 10-bit elements, as fp16 */
	api.last_variant(variant, sizeof(variant));
	tolfac = (half || strncmp(variant, "gemm", 4) == 0) ? 4e-3 : 5e-5;
	for (int i = 0; i < dim; i++)
	{
		qn2 += (double) q[i] * q[i];
		ql1 += fabs((double) q[i]);
	}
#pragma omp parallel for schedule(static) if (n * (int64_t) dim > 200000)
	for (int64_t i = 0; i < n; i++)
		ex[i] = exact(metric, q, M->rows + i * (int64_t) dim, dim, qn2, M->rn2[i]);

	st->checked++;
	/* every returned distance */
	for (int i = 0; i < nret; i++)
	{
		int64_t		r = gi[i];
		double		e = ex[r];
		double		d = gd[i];
		double		tol = tolfac * tol_scale(metric, qn2, M->rn2[r], ql1, M->rl1[r]) + 1e-30;

		if (metric == HS_GPU_L2 && !isnan(d))
			d = d * d;
		if (isnan(e) != isnan(d))
		{
			report_fail(st, ctx, "slot %d row %lld: gpu %g exact %g (NaN mismatch)", i, (long long) r, d, e);
			goto done;
		}
		if (!isnan(e))
		{
			double		rel = fabs(d - e) / tol;

			if (rel > st->max_rel)
				st->max_rel = rel;
			if (rel > 1.0)
			{
				report_fail(st, ctx, "slot %d row %lld: gpu %.9g exact %.9g tol %.3g", i, (long long) r,
							d, e, tol);
				goto done;
			}
		}
	}

	/* containment of the true top k */
	nref = ref_topk(ex, n, ktrue, ref);
	memcpy(sorted, gi, sizeof(int64_t) * (size_t) nret);
	qsort(sorted, (size_t) nret, sizeof(int64_t), cmp_i64);
	{
		int64_t		last = gi[nret - 1];
		double		elast = ex[last];
		double		tlast = tolfac * tol_scale(metric, qn2, M->rn2[last], ql1, M->rl1[last]);

		for (int j = 0; j < nref; j++)
		{
			int64_t		r = ref[j];
			double		tr;

			if (bsearch(&r, sorted, (size_t) nret, sizeof(int64_t), cmp_i64))
				continue;
			if (n <= kreq)
			{
				report_fail(st, ctx, "row %lld missing though every row should be returned", (long long) r);
				goto done;
			}
			if (isnan(ex[r]))
			{
				if (!isnan(elast))
				{
					report_fail(st, ctx, "NaN row %lld missing while the answer has no NaN", (long long) r);
					goto done;
				}
				st->tol_misses++;
				continue;
			}
			if (isnan(elast))
			{
				report_fail(st, ctx, "true neighbour %lld (%.9g) missing, NaN returned instead", (long long) r, ex[r]);
				goto done;
			}
			tr = tolfac * tol_scale(metric, qn2, M->rn2[r], ql1, M->rl1[r]);
			if (ex[r] + tr >= elast - tlast)
			{
				st->tol_misses++;
				continue;
			}
			report_fail(st, ctx, "true neighbour #%d row %lld (exact %.9g) missing; last candidate %lld exact %.9g",
						j, (long long) r, ex[r], (long long) last, elast);
			goto done;
		}
	}
done:
	free(ex);
	free(ref);
	free(sorted);
}

static char errbuf[1024];

static void
mat_build(Mat *M, int64_t n, int dim, uint64_t seed, int mode, int zero_row)
{
	memset(M, 0, sizeof(*M));
	M->n = n;
	M->dim = dim;
	M->rows = malloc(sizeof(float) * (size_t) n * dim);
	M->rn2 = malloc(sizeof(double) * (size_t) n);
	M->rl1 = malloc(sizeof(double) * (size_t) n);
	if (!M->rows || !M->rn2 || !M->rl1)
	{
		fprintf(stderr, "out of host memory\n");
		exit(2);
	}
	gen(M->rows, n, dim, seed, mode);
	if (zero_row >= 0 && zero_row < n)
		memset(M->rows + (int64_t) zero_row * dim, 0, sizeof(float) * dim);
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < n; i++)
	{
		double		a = 0,
					b = 0;

		for (int j = 0; j < dim; j++)
		{
			double		v = M->rows[i * dim + j];

			a += v * v;
			b += fabs(v);
		}
		M->rn2[i] = a;
		M->rl1[i] = b;
	}
	for (int h = 0; h < 2; h++)
	{
		/* three appends of uneven size: exercises growth and incremental copy */
		int64_t		cuts[4] = {0, n / 3, n / 3 + (n - n / 3) / 2, n};

		M->gm[h] = api.create(0, dim, h, errbuf, sizeof(errbuf));
		if (!M->gm[h])
		{
			printf("FAIL create dim %d half %d: %s\n", dim, h, errbuf);
			exit(1);
		}
		for (int c = 0; c < 3; c++)
		{
			int			rc = api.append(M->gm[h], M->rows + cuts[c] * dim, cuts[c + 1] - cuts[c],
										errbuf, sizeof(errbuf));

			if (rc != 0)
			{
				printf("FAIL append n %lld dim %d half %d: rc %d %s\n", (long long) n, dim, h, rc, errbuf);
				exit(1);
			}
		}
		if (api.rows(M->gm[h]) != n)
		{
			printf("FAIL rows() = %lld, expected %lld\n", (long long) api.rows(M->gm[h]), (long long) n);
			total_fails++;
		}
	}
}

/*
 * Split M into nparts stripes the way the GPU worker does (row r in part
 * r % nparts, part p on device p % ndevices), each appended in two pieces.
 */
static void
mat_split(Mat *M, int nparts)
{
	float	   *stripe = malloc(sizeof(float) * ((size_t) M->n / nparts + 1) * M->dim);

	M->nparts = nparts;
	for (int h = 0; h < 2; h++)
		for (int p = 0; p < nparts; p++)
		{
			int64_t		len = 0;

			M->parts[h][p] = api.create(p % ndevices, M->dim, h, errbuf, sizeof(errbuf));
			if (!M->parts[h][p])
			{
				printf("FAIL create part %d on device %d: %s\n", p, p % ndevices, errbuf);
				exit(1);
			}
			for (int64_t r = p; r < M->n; r += nparts)
				memcpy(stripe + (size_t) len++ * M->dim, M->rows + (size_t) r * M->dim,
					   sizeof(float) * M->dim);
			if (api.append(M->parts[h][p], stripe, len / 2, errbuf, sizeof(errbuf)) != 0 ||
				api.append(M->parts[h][p], stripe + (size_t) (len / 2) * M->dim, len - len / 2,
						   errbuf, sizeof(errbuf)) != 0)
			{
				printf("FAIL append part %d: %s\n", p, errbuf);
				exit(1);
			}
		}
	free(stripe);
}

static int
mat_search(Mat *M, int half, int metric, const float *q, int batch, int k, float *d, int64_t *r,
		   float *ms)
{
	if (M->nparts > 1)
		return api.search_parts(M->parts[half], M->nparts, metric, q, batch, k, d, r, ms,
								errbuf, sizeof(errbuf));
	return api.search(M->gm[half], metric, q, batch, k, d, r, ms, errbuf, sizeof(errbuf));
}

static void
mat_free(Mat *M)
{
	for (int h = 0; h < 2; h++)
	{
		if (M->gm[h])
			api.mfree(M->gm[h]);
		for (int p = 0; p < M->nparts; p++)
			api.mfree(M->parts[h][p]);
	}
	free(M->rows);
	free(M->rn2);
	free(M->rl1);
	memset(M, 0, sizeof(*M));
}

/* one search of `batch` queries; check structure of all, reference of nsample */
static void
run_case(Stats *st, const char *group, Mat *M, int metric, int half, int batch, int ktrue,
		 int nsample, uint64_t seed)
{
	int			kreq = 2 * ktrue;
	int			dim = M->dim;
	float	   *q = malloc(sizeof(float) * (size_t) batch * dim);
	float	   *gd = malloc(sizeof(float) * (size_t) batch * kreq);
	int64_t    *gi = malloc(sizeof(int64_t) * (size_t) batch * kreq);
	char		ctx[256];
	float		ms = -1;
	int			rc;
	uint32_t	pb = POISON_BITS;

	gen(q, batch, dim, seed, 0);
	for (size_t i = 0; i < (size_t) batch * kreq; i++)
	{
		memcpy(&gd[i], &pb, 4);
		gi[i] = POISON_ROW;
	}
	snprintf(ctx, sizeof(ctx), "%s n=%lld dim=%d %s %s batch=%d k=%d parts=%d", group,
			 (long long) M->n, dim, metric_name[metric], half ? "fp16" : "fp32", batch, ktrue,
			 M->nparts > 1 ? M->nparts : 1);
	st->searches++;
	rc = mat_search(M, half, metric, q, batch, kreq, gd, gi, &ms);
	if (rc != 0)
	{
		report_fail(st, ctx, "search returned %d: %s", rc, errbuf);
		goto out;
	}
	for (int b = 0; b < batch; b++)
	{
		char		c2[300];

		snprintf(c2, sizeof(c2), "%s q%d", ctx, b);
		if (check_structure(st, c2, M->n, kreq, gd + (size_t) b * kreq, gi + (size_t) b * kreq))
			goto out;
	}
	for (int s = 0; s < nsample && s < batch; s++)
	{
		int			b = (s == 0) ? 0 : (s == 1) ? batch - 1 : (int) ((uint64_t) (s * 2654435761u) % batch);
		char		c2[300];

		snprintf(c2, sizeof(c2), "%s q%d", ctx, b);
		check_reference(st, c2, M, metric, half, q + (size_t) b * dim, kreq, ktrue,
						gd + (size_t) b * kreq, gi + (size_t) b * kreq);
	}
out:
	free(q);
	free(gd);
	free(gi);
}

static void
print_stats(const char *name, const Stats *st, double secs)
{
	printf("group %-2s %6ld searches %6ld queries checked %4ld failures %5ld tolerance-misses  max err/tol %.3f  (%.1f s)\n",
		   name, st->searches, st->checked, st->fails, st->tol_misses, st->max_rel, secs);
	fflush(stdout);
}

static const int batches[] = {1, 8, 64, 128};

static void
group_A(void)
{
	Stats		st = {0};
	double		t0 = now_s();
	int			dims[] = {1, 3, 17, 100, 768, 4000, 16000};
	int64_t		ns[] = {1, 7, 9, 10, 11, 99, 100, 101, 1000};

	for (size_t di = 0; di < sizeof(dims) / sizeof(dims[0]); di++)
		for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++)
		{
			Mat			M;
			int64_t		n = ns[ni];

			mat_build(&M, n, dims[di], 1000 + di * 31 + ni, 0, n > 3 ? 3 : -1);
			for (int kk = 0; kk < 2; kk++)
			{
				int			k = kk ? 100 : 10;

				/* rows 1, 7, 1000 for both k; k-1, k, k+1 for their own k */
				if (!(n == 1 || n == 7 || n == 1000 || (n >= k - 1 && n <= k + 1)))
					continue;
				for (int bi = 0; bi < 4; bi++)
					for (int metric = 1; metric <= 4; metric++)
						for (int h = 0; h < 2; h++)
							run_case(&st, "A", &M, metric, h, batches[bi], k, 6,
									 77 + di * 1000 + ni * 100 + bi * 10 + metric);
			}
			mat_free(&M);
		}
	print_stats("A", &st, now_s() - t0);
}

static void
group_big(const char *name, int64_t n, const int *dims, int ndims, int nsample)
{
	Stats		st = {0};
	double		t0 = now_s();

	for (int di = 0; di < ndims; di++)
	{
		Mat			M;

		mat_build(&M, n, dims[di], 5000 + di, 0, 3);
		for (int kk = 0; kk < 2; kk++)
			for (int bi = 0; bi < 4; bi++)
				for (int metric = 1; metric <= 4; metric++)
					for (int h = 0; h < 2; h++)
						run_case(&st, name, &M, metric, h, batches[bi], kk ? 100 : 10, nsample,
								 9000 + di * 1000 + bi * 10 + metric + kk * 7);
		mat_free(&M);
		printf("  %s dim %d done (%.1f s)\n", name, dims[di], now_s() - t0);
		fflush(stdout);
	}
	print_stats(name, &st, now_s() - t0);
}

static void
group_D(void)
{
	Stats		st = {0};
	double		t0 = now_s();
	Mat			M;

	mat_build(&M, 100000, 768, 31337, 0, 3);
	for (int metric = 1; metric <= 4; metric++)
		for (int h = 0; h < 2; h++)
		{
			run_case(&st, "D", &M, metric, h, 8, 1024, 2, 444 + metric);
			run_case(&st, "D", &M, metric, h, 1, HS_GPU_MAX_K / 2, 1, 555 + metric);
			run_case(&st, "D", &M, metric, h, 64, 512, 2, 666 + metric);
		}
	mat_free(&M);
	print_stats("D", &st, now_s() - t0);
}

static void
group_E(void)
{
	Stats		st = {0};
	double		t0 = now_s();
	float		q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	float		d[64];
	int64_t		r[64];
	int			rc;
	hs_gpu_matrix *m;
	Mat			M;

	/* argument errors come back as codes and messages */
	errbuf[0] = 0;
	if (api.create(0, 0, 0, errbuf, sizeof(errbuf)) != NULL || !errbuf[0])
		report_fail(&st, "E", "create(dim 0) should fail with a message");
	errbuf[0] = 0;
	if (api.create(0, HS_GPU_MAX_DIM + 1, 1, errbuf, sizeof(errbuf)) != NULL || !errbuf[0])
		report_fail(&st, "E", "create(dim 16001) should fail with a message");
	errbuf[0] = 0;
	if (api.create(ndevices, 8, 0, errbuf, sizeof(errbuf)) != NULL || !errbuf[0])
		report_fail(&st, "E", "create on an unopened device should fail with a message");
	errbuf[0] = 0;
	if (api.search_parts(NULL, 0, HS_GPU_L2, q, 1, 5, d, r, NULL, errbuf, sizeof(errbuf)) != HS_GPU_EINVAL ||
		!errbuf[0])
		report_fail(&st, "E", "search_parts(0 parts) should fail with a message");
	m = api.create(0, 8, 0, errbuf, sizeof(errbuf));
	if (!m)
	{
		report_fail(&st, "E", "create(8): %s", errbuf);
		return;
	}
	/* empty matrix: every slot -1 / +inf */
	for (int i = 0; i < 5; i++)
		r[i] = POISON_ROW;
	rc = api.search(m, HS_GPU_L2, q, 1, 5, d, r, NULL, errbuf, sizeof(errbuf));
	st.searches++;
	if (rc != 0 || r[0] != -1 || r[4] != -1 || !isinf(d[0]))
		report_fail(&st, "E", "empty-matrix search: rc %d row %lld", rc, (long long) r[0]);
	if (api.append(m, q, 1, errbuf, sizeof(errbuf)) != 0)
		report_fail(&st, "E", "append: %s", errbuf);
	errbuf[0] = 0;
	if ((rc = api.search(m, 9, q, 1, 5, d, r, NULL, errbuf, sizeof(errbuf))) != HS_GPU_EINVAL || !errbuf[0])
		report_fail(&st, "E", "metric 9: rc %d", rc);
	errbuf[0] = 0;
	if ((rc = api.search(m, HS_GPU_L2, q, 1, 0, d, r, NULL, errbuf, sizeof(errbuf))) != HS_GPU_EINVAL || !errbuf[0])
		report_fail(&st, "E", "k 0: rc %d", rc);
	errbuf[0] = 0;
	if ((rc = api.search(m, HS_GPU_L2, q, 1, HS_GPU_MAX_K + 1, d, r, NULL, errbuf, sizeof(errbuf))) != HS_GPU_EINVAL || !errbuf[0])
		report_fail(&st, "E", "k too large: rc %d", rc);
	if ((rc = api.search(m, HS_GPU_L2, q, 0, 5, d, r, NULL, errbuf, sizeof(errbuf))) != 0)
		report_fail(&st, "E", "0 queries: rc %d %s", rc, errbuf);
	/* still works after the errors; the only row at distance 0 */
	rc = api.search(m, HS_GPU_L2, q, 1, 3, d, r, NULL, errbuf, sizeof(errbuf));
	st.searches++;
	if (rc != 0 || r[0] != 0 || d[0] != 0.0f || r[1] != -1 || r[2] != -1)
		report_fail(&st, "E", "1-row search after errors: rc %d row %lld d %g (%s)", rc, (long long) r[0], d[0], errbuf);
	printf("  E bytes() of a 1-row dim-8 fp32 matrix: %zu\n", api.bytes(m));
	api.mfree(m);

	/* incremental appends (many small pieces) give the same answers as three big ones */
	mat_build(&M, 60000, 100, 4242, 0, 3);
	for (int h = 0; h < 2; h++)
	{
		hs_gpu_matrix *inc = api.create(0, 100, h, errbuf, sizeof(errbuf));
		int64_t		off = 0;
		int			piece = 1;
		int			nq = 16,
					k = 50;
		float	   *qq = malloc(sizeof(float) * nq * 100);
		float	   *d1 = malloc(sizeof(float) * nq * k),
				   *d2 = malloc(sizeof(float) * nq * k);
		int64_t    *r1 = malloc(sizeof(int64_t) * nq * k),
				   *r2 = malloc(sizeof(int64_t) * nq * k);

		while (off < M.n)
		{
			int64_t		len = piece < M.n - off ? piece : M.n - off;

			if (api.append(inc, M.rows + off * 100, len, errbuf, sizeof(errbuf)) != 0)
			{
				report_fail(&st, "E", "incremental append: %s", errbuf);
				break;
			}
			off += len;
			piece = piece * 3 + 1;
		}
		gen(qq, nq, 100, 99, 0);
		for (int metric = 1; metric <= 4; metric++)
		{
			int			rc1 = api.search(M.gm[h], metric, qq, nq, k, d1, r1, NULL, errbuf, sizeof(errbuf));
			int			rc2 = api.search(inc, metric, qq, nq, k, d2, r2, NULL, errbuf, sizeof(errbuf));

			st.searches += 2;
			if (rc1 || rc2 || memcmp(r1, r2, sizeof(int64_t) * nq * k) != 0 ||
				memcmp(d1, d2, sizeof(float) * nq * k) != 0)
				report_fail(&st, "E", "incremental matrix differs (%s, %s): rc %d %d", metric_name[metric],
							h ? "fp16" : "fp32", rc1, rc2);
		}
		printf("  E incremental %s: %lld rows, bytes() %zu\n", h ? "fp16" : "fp32",
			   (long long) api.rows(inc), api.bytes(inc));
		api.mfree(inc);
		free(qq);
		free(d1);
		free(d2);
		free(r1);
		free(r2);
	}
	mat_free(&M);
	print_stats("E", &st, now_s() - t0);
}

/* one search of q, its answer in d / r and its variant in var */
static int
search_once(hs_gpu_matrix *m, int metric, const float *q, int batch, int k, float *d, int64_t *r,
			char *var, size_t varlen)
{
	int			rc = api.search(m, metric, q, batch, k, d, r, NULL, errbuf, sizeof(errbuf));

	api.last_variant(var, varlen);
	return rc;
}

/*
 * The same search four times: the first two run call by call (the first
 * may tune), the third may be captured and the last replayed.  All four
 * must give the same bits, and the last two must have run as a graph
 * exactly when graphs are on and the search's plan is the GEMM path over
 * several chunks (the caller says when that is, for GEMM plans).  Returns
 * the answer's first row.
 */
static int64_t
repeat_and_compare(Stats *st, const char *ctx, hs_gpu_matrix *m, int metric, const float *q, int batch,
				   int k, int graph_if_gemm, float *d, int64_t *r)
{
	float	   *d0 = malloc(sizeof(float) * (size_t) batch * k);
	int64_t    *r0 = malloc(sizeof(int64_t) * (size_t) batch * k);
	char		var[128] = "";

	for (int run = 0; run < 4; run++)
	{
		st->searches++;
		if (search_once(m, metric, q, batch, k, run == 0 ? d0 : d, run == 0 ? r0 : r, var, sizeof(var)) != 0)
		{
			report_fail(st, ctx, "run %d: search failed: %s", run, errbuf);
			break;
		}
		if (run > 0 && (memcmp(d0, d, sizeof(float) * batch * k) != 0 ||
						memcmp(r0, r, sizeof(int64_t) * batch * k) != 0))
			report_fail(st, ctx, "run %d (%s) differs from the first run", run, var);
		if (run >= 2 && (strstr(var, "[graph]") != NULL) != (graph_if_gemm && strncmp(var, "gemm", 4) == 0))
			report_fail(st, ctx, "run %d ran as \"%s\"", run, var);
	}
	free(d0);
	free(r0);
	return r[0];
}

/*
 * G: searches replayed as CUDA graphs (graph_cache.h), which only GEMM
 * plans over several chunks use: 128 queries on 100k rows.  A small matrix
 * (the heuristic's fused plan) and a tuned one, fp32 and fp16, three
 * metrics, batches 1 and 128: the repeated search agrees bit for bit, and
 * with the reference; after the query itself is appended as a new row the
 * graph is not reused (the new row comes first); after a batch of 256 has
 * grown the buffers, the search is captured again and agrees with its
 * call-by-call run.
 */
static void
group_G(int graphs)
{
	Stats		st = {0};
	double		t0 = now_s();
	int64_t		sizes[] = {3000, 100000};
	int			metrics[] = {HS_GPU_L2, HS_GPU_COSINE, HS_GPU_L1};
	int			batches_g[] = {1, 128};
	int			ktrue = 10,
				k = 2 * ktrue;
	float	   *q = malloc(sizeof(float) * 256 * 768);
	float	   *d = malloc(sizeof(float) * 256 * k);
	int64_t    *r = malloc(sizeof(int64_t) * 256 * k);

	for (int si = 0; si < 2; si++)
	{
		Mat			M;

		mat_build(&M, sizes[si], 768, 777 + si, 0, -1);
		for (int h = 0; h < 2; h++)
			for (int mi = 0; mi < 3; mi++)
				for (int bi = 0; bi < 2; bi++)
				{
					int			batch = batches_g[bi];
					int			graph_if_gemm = graphs && sizes[si] == 100000 && batch == 128;
					char		ctx[200];
					char		var[128];
					int64_t		n = api.rows(M.gm[h]);

					snprintf(ctx, sizeof(ctx), "G n=%lld %s %s batch=%d", (long long) n,
							 metric_name[metrics[mi]], h ? "fp16" : "fp32", batch);
					gen(q, 256, 768, 4000 + batch + 10 * mi, 0);
					repeat_and_compare(&st, ctx, M.gm[h], metrics[mi], q, batch, k, graph_if_gemm, d, r);
					if (n == M.n)
						check_reference(&st, ctx, &M, metrics[mi], h, q, k, ktrue, d, r);
					if (api.append(M.gm[h], q, 1, errbuf, sizeof(errbuf)) != 0)
					{
						report_fail(&st, ctx, "append: %s", errbuf);
						continue;
					}
					if (repeat_and_compare(&st, ctx, M.gm[h], metrics[mi], q, batch, k, graph_if_gemm,
										   d, r) != n)
						report_fail(&st, ctx, "the appended row %lld is not first after the append", (long long) n);
					if (search_once(M.gm[h], metrics[mi], q, 256, k, d, r, var, sizeof(var)) != 0)
						report_fail(&st, ctx, "batch 256: %s", errbuf);
					repeat_and_compare(&st, ctx, M.gm[h], metrics[mi], q, batch, k, graph_if_gemm, d, r);
				}
		mat_free(&M);
	}
	free(q);
	free(d);
	free(r);
	print_stats("G", &st, now_s() - t0);
}

static void
group_F(void)
{
	Stats		st = {0};
	double		t0 = now_s();
	int			dims[] = {1, 3, 8};

	for (int di = 0; di < 3; di++)
	{
		Mat			M;

		mat_build(&M, 200000, dims[di], 777 + di, 1, 3);
		for (int metric = 1; metric <= 4; metric++)
			for (int h = 0; h < 2; h++)
				for (int bi = 0; bi < 4; bi++)
					run_case(&st, "F", &M, metric, h, batches[bi], 10, 3, 31 + metric * 10 + bi);
		mat_free(&M);
	}
	print_stats("F", &st, now_s() - t0);
}

/* small enough for compute-sanitizer: s = 3000 x 100 only; S adds 60000 x 768
 * (autotuned, so every candidate variant and the GEMM path run) and k = 4096 */
static void
group_S(int big)
{
	Stats		st = {0};
	double		t0 = now_s();
	Mat			M;

	mat_build(&M, 3000, 100, 5151, 0, 3);
	for (int metric = 1; metric <= 4; metric++)
		for (int h = 0; h < 2; h++)
		{
			run_case(&st, "S", &M, metric, h, 1, 10, 1, 10 + metric);
			run_case(&st, "S", &M, metric, h, 16, 10, 2, 20 + metric);
		}
	mat_free(&M);
	if (big)
	{
		mat_build(&M, 60000, 768, 6161, 0, 3);
		for (int metric = 1; metric <= 4; metric++)
			for (int h = 0; h < 2; h++)
				run_case(&st, "S", &M, metric, h, 16, 50, 2, 30 + metric);
		run_case(&st, "S", &M, HS_GPU_COSINE, 1, 1, HS_GPU_MAX_K / 2, 1, 99);
		mat_free(&M);
	}
	print_stats(big ? "S" : "s", &st, now_s() - t0);
}

static int
cmp_f(const void *a, const void *b)
{
	float		x = *(const float *) a,
				y = *(const float *) b;

	return x < y ? -1 : x > y;
}

static void
group_P(void)
{
	Stats		st = {0};
	double		t0 = now_s();
	int			splits[] = {2, 3, ndevices};
	int64_t		ns[] = {1, 2, 7, 1000, 100000};
	int			dims[] = {3, 768};

	for (int si = 0; si < 3; si++)
	{
		if (si == 2 && ndevices <= 3)
			continue;			/* one part per device: 2 and 3 cover it */
		for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++)
			for (int di = 0; di < 2; di++)
			{
				Mat			M;

				mat_build(&M, ns[ni], dims[di], 7000 + ni * 10 + di, 0, ns[ni] > 3 ? 3 : -1);
				mat_split(&M, splits[si]);
				for (int bi = 0; bi < 3; bi++)
					for (int metric = 1; metric <= 4; metric++)
						for (int h = 0; h < 2; h++)
						{
							run_case(&st, "P", &M, metric, h, batches[bi], 10, 3,
									 8100 + ni * 100 + bi * 10 + metric);
							if (ns[ni] >= 1000 && bi == 1)
								run_case(&st, "P", &M, metric, h, 8, 1024, 2, 8200 + metric);
						}
				mat_free(&M);
			}
	}
	print_stats("P", &st, now_s() - t0);
}

/* median wall and kernel ms of reps searches of M (whole or split) */
static int
time_search(Mat *M, int half, int batch, int reps, float *wall_ms, float *kernel_ms)
{
	int			k = 10;
	float	   *q = malloc(sizeof(float) * batch * M->dim);
	float	   *d = malloc(sizeof(float) * batch * k);
	int64_t    *r = malloc(sizeof(int64_t) * batch * k);
	float	   *wms = malloc(sizeof(float) * reps);
	float	   *kms = malloc(sizeof(float) * reps);
	int			rc = 0;

	gen(q, batch, M->dim, 4321 + batch, 0);
	for (int i = -3; i < reps && rc == 0; i++)
	{
		float		ms = 0;
		double		w0 = now_s();

		rc = mat_search(M, half, HS_GPU_COSINE, q, batch, k, d, r, &ms);
		if (i >= 0)
		{
			wms[i] = (float) ((now_s() - w0) * 1e3);
			kms[i] = ms;
		}
	}
	if (rc == 0)
	{
		qsort(wms, reps, sizeof(float), cmp_f);
		qsort(kms, reps, sizeof(float), cmp_f);
		*wall_ms = wms[reps / 2];
		*kernel_ms = kms[reps / 2];
	}
	free(q);
	free(d);
	free(r);
	free(wms);
	free(kms);
	return rc;
}

static void
group_M(int reps)
{
	const char *env = getenv("HS_PARTS_ROWS");
	int64_t		n = env ? atoll(env) : 1000000;
	int			splits[] = {1, 2, ndevices};
	double		t0 = now_s();

	printf("M: %lld x 768, cosine k=10, %d device(s), median of %d runs\n", (long long) n, ndevices, reps);
	printf("parts devices prec batch  wall_ms  kern_ms\n");
	for (int si = 0; si < 3; si++)
	{
		Mat			M;

		if (si == 2 && ndevices <= 2)
			continue;
		mat_build(&M, n, 768, 2024, 0, -1);
		if (splits[si] > 1)
			mat_split(&M, splits[si]);
		for (int h = 0; h < 2; h++)
			for (int bi = 0; bi < 3; bi += 2)
			{
				float		wall = 0,
							kern = 0;

				if (time_search(&M, h, batches[bi], reps, &wall, &kern) != 0)
				{
					printf("FAIL timing parts=%d: %s\n", splits[si], errbuf);
					total_fails++;
					continue;
				}
				printf("%5d %7d %4s %5d %8.3f %8.3f\n", splits[si],
					   splits[si] < ndevices ? splits[si] : ndevices, h ? "fp16" : "fp32",
					   batches[bi], wall, kern);
			}
		mat_free(&M);
	}
	printf("M done (%.1f s)\n", now_s() - t0);
}

static void
group_T(int reps)
{
	Mat			M;
	double		t0 = now_s();
	int			metrics[] = {HS_GPU_COSINE, HS_GPU_L2};
	int			ks[] = {10, 100};
	char		lines[64][200];
	int			nl = 0;

	mat_build(&M, 1000000, 768, 2024, 0, -1);
	printf("T: 1M x 768, median of %d runs after 3 warm-ups\n", reps);
	for (int h = 0; h < 2; h++)
	{
		size_t		bytes = (size_t) M.n * 768 * (h ? 2 : 4);
		float		read_ms = -1,
					copy_ms = -1,
					gemm_ms[4];

		for (int bi = 0; bi < 4; bi++)
		{
			float		r_ms,
						c_ms;

			if (api.bench(M.gm[h], batches[bi], reps, &r_ms, &c_ms, &gemm_ms[bi], errbuf, sizeof(errbuf)) != 0)
			{
				printf("FAIL bench: %s\n", errbuf);
				total_fails++;
				continue;
			}
			if (bi == 0)
			{
				read_ms = r_ms;
				copy_ms = c_ms;
			}
		}
		printf("floor %s: %.3f GB: read kernel %.3f ms (%.0f GB/s), D2D copy %.3f ms (%.0f GB/s read+write); "
			   "cuBLAS GEMM alone: b1 %.3f b8 %.3f b64 %.3f b128 %.3f ms\n",
			   h ? "fp16" : "fp32", bytes / 1e9, read_ms, bytes / read_ms / 1e6, copy_ms,
			   2.0 * bytes / copy_ms / 1e6, gemm_ms[0], gemm_ms[1], gemm_ms[2], gemm_ms[3]);
		for (int mi = 0; mi < 2; mi++)
			for (int ki = 0; ki < 2; ki++)
				for (int bi = 0; bi < 4; bi++)
				{
					int			b = batches[bi],
								k = ks[ki];
					float	   *q = malloc(sizeof(float) * b * 768);
					float	   *d = malloc(sizeof(float) * b * k);
					int64_t    *r = malloc(sizeof(int64_t) * b * k);
					float	   *kms = malloc(sizeof(float) * reps);
					float	   *wms = malloc(sizeof(float) * reps);
					char		var[96];

					gen(q, b, 768, 1234 + bi, 0);
					for (int i = -3; i < reps; i++)
					{
						float		ms = 0;
						double		w0 = now_s();
						int			rc = api.search(M.gm[h], metrics[mi], q, b, k, d, r, &ms, errbuf, sizeof(errbuf));

						if (rc != 0)
						{
							printf("FAIL timing search: %s\n", errbuf);
							total_fails++;
							break;
						}
						if (i >= 0)
						{
							kms[i] = ms;
							wms[i] = (float) ((now_s() - w0) * 1e3);
						}
					}
					api.last_variant(var, sizeof(var));
					qsort(kms, reps, sizeof(float), cmp_f);
					qsort(wms, reps, sizeof(float), cmp_f);
					{
						float		km = kms[reps / 2];

						if (nl < 64)
							snprintf(lines[nl++], sizeof(lines[0]),
									 "%-4s %-6s %4d %5d %8.3f %8.2f %8.3f %7.0f %6.2f  %s",
									 h ? "fp16" : "fp32", metric_name[metrics[mi]], k, b, km, km * 1e3 / b,
									 wms[reps / 2], bytes / km / 1e6, read_ms / km, var);
					}
					free(q);
					free(d);
					free(r);
					free(kms);
					free(wms);
				}
	}
	mat_free(&M);
	printf("T done (%.1f s)\n", now_s() - t0);
	{
		static char rep[8 << 20];

		api.tune_report(rep, sizeof(rep));
		printf("---- autotune cache ----\n%s---- end of autotune cache ----\n", rep);
	}
	printf("---- timing table (1M x 768; ms = kernel time by CUDA events; floor = read kernel of the same bytes) ----\n");
	printf("prec metric    k batch  kern_ms  us/query  wall_ms    GB/s floor/t  variant\n");
	for (int i = 0; i < nl; i++)
		printf("%s\n", lines[i]);
}

static int
env_int(const char *name, int dflt)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : dflt;
}

static void
group_O(int reps)
{
	Mat			M;
	int			half = env_int("HS_O_HALF", 1) != 0;
	int			metric = env_int("HS_O_METRIC", HS_GPU_COSINE);
	int			b = env_int("HS_O_BATCH", 1);
	int			k = env_int("HS_O_K", 32);
	float	   *q = malloc(sizeof(float) * b * 768);
	float	   *d = malloc(sizeof(float) * b * k);
	int64_t    *r = malloc(sizeof(int64_t) * b * k);
	float	   *kms = malloc(sizeof(float) * reps);
	char		var[96];

	mat_build(&M, 1000000, 768, 2024, 0, -1);
	gen(q, b, 768, 4321, 0);
	for (int i = -3; i < reps; i++)
	{
		float		ms = 0;

		if (api.search(M.gm[half], metric, q, b, k, d, r, &ms, errbuf, sizeof(errbuf)) != 0)
		{
			printf("FAIL profiled search: %s\n", errbuf);
			total_fails++;
			break;
		}
		if (i >= 0)
			kms[i] = ms;
	}
	api.last_variant(var, sizeof(var));
	qsort(kms, reps, sizeof(float), cmp_f);
	printf("O: 1M x 768 %s %s k %d batch %d: median %.3f ms of %d searches (%s)\n", half ? "fp16" : "fp32",
		   metric_name[metric], k, b, kms[reps / 2], reps, var);
	mat_free(&M);
	free(q);
	free(d);
	free(r);
	free(kms);
}

int
main(int argc, char **argv)
{
	const char *lib = "cuda/libhybridsearch_cuda.so";
	const char *groups = "AEFDBCT";
	int			reps = 25;
	int			tune_runs = 0;
	int			graphs = 1;
	int			rc;

	for (int i = 1; i < argc; i++)
	{
		if (!strcmp(argv[i], "--lib") && i + 1 < argc)
			lib = argv[++i];
		else if (!strcmp(argv[i], "--groups") && i + 1 < argc)
			groups = argv[++i];
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--tune-runs") && i + 1 < argc)
			tune_runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--graphs") && i + 1 < argc)
			graphs = atoi(argv[++i]);
		else
		{
			fprintf(stderr, "usage: %s [--lib PATH] [--groups AEFGDBCPMTOSs] [--reps N] [--tune-runs N] [--graphs 0|1]\n", argv[0]);
			return 2;
		}
	}
	if (reps < 1)
		reps = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	load_api(lib);
	if (api.set_tune_runs)
		api.set_tune_runs(tune_runs);
	else if (tune_runs != 0)
	{
		fprintf(stderr, "%s has no hs_gpu_set_tune_runs: --tune-runs needs a newer build\n", lib);
		return 2;
	}
	if (api.set_graphs)
		api.set_graphs(graphs);
	else if (graphs != 1)
	{
		fprintf(stderr, "%s has no hs_gpu_set_graphs: --graphs needs a newer build\n", lib);
		return 2;
	}
	{
		double		t0 = now_s();

		rc = api.device_count(&ndevices, errbuf, sizeof(errbuf));
		for (int dev = 0; rc == 0 && dev < ndevices; dev++)
			rc = api.open(dev, errbuf, sizeof(errbuf));
		if (rc != 0 || ndevices < 1)
		{
			printf("hs_gpu_open failed (%d): %s\n", rc, errbuf);
			return 1;
		}
		printf("hs_gpu_open: %d device(s) in %.3f s; %d OpenMP threads\n", ndevices, now_s() - t0,
			   omp_get_max_threads());
	}
	for (const char *g = groups; *g; g++)
	{
		switch (*g)
		{
			case 'A':
				group_A();
				break;
			case 'B':
				{
					int			d[] = {1, 3, 768, 4000};

					group_big("B", 100000, d, 4, 3);
				}
				break;
			case 'C':
				{
					int			d[] = {3, 768};

					group_big("C", 1000000, d, 2, 2);
				}
				break;
			case 'D':
				group_D();
				break;
			case 'E':
				group_E();
				break;
			case 'F':
				group_F();
				break;
			case 'G':
				group_G(graphs);
				break;
			case 'P':
				group_P();
				break;
			case 'M':
				group_M(reps);
				break;
			case 'T':
				group_T(reps);
				break;
			case 'O':
				group_O(reps);
				break;
			case 'S':
				group_S(1);
				break;
			case 's':
				group_S(0);
				break;
		}
	}
	api.close();
	printf("RESULT: %ld failures\n", total_fails);
	return total_fails ? 1 : 0;
}
