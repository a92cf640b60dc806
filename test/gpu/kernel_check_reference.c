/*
 * kernel_check_reference.c
 *	  Test data, the float64 reference and the checks of kernel_check
 *	  (kernel_check.h).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <time.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "kernel_check.h"

double
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
void
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

void
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

/* restore the max-heap (on ref_less) of idx[0..cnt) after its root changed */
static void
ref_sift_down(const double *ex, int64_t *idx, int cnt)
{
	int			c = 0;

	for (;;)
	{
		int			l = 2 * c + 1,
					r = l + 1,
					m = c;
		int64_t		t;

		if (l < cnt && ref_less(ex[idx[m]], idx[m], ex[idx[l]], idx[l]))
			m = l;
		if (r < cnt && ref_less(ex[idx[m]], idx[m], ex[idx[r]], idx[r]))
			m = r;
		if (m == c)
			return;
		t = idx[m];
		idx[m] = idx[c];
		idx[c] = t;
		c = m;
	}
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
			idx[0] = i;
			ref_sift_down(ex, idx, cnt);
		}
	}
	/* heap sort ascending */
	for (int end = cnt - 1; end > 0; end--)
	{
		int64_t		t = idx[0];

		idx[0] = idx[end];
		idx[end] = t;
		ref_sift_down(ex, idx, end);
	}
	return cnt;
}

/* structure of one query's answer: slots, poison, range, duplicates, order */
int
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
void
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

	/* the GEMM and tensor paths multiply fp32 rows in TF32: 10-bit
	 * elements, as fp16 */
	api.last_variant(variant, sizeof(variant));
	tolfac = (half || strncmp(variant, "gemm", 4) == 0 || strncmp(variant, "tensor", 6) == 0) ?
		4e-3 : 5e-5;
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

void
print_stats(const char *name, const Stats *st, double secs)
{
	printf("group %-2s %6ld searches %6ld queries checked %4ld failures %5ld tolerance-misses  max err/tol %.3f  (%.1f s)\n",
		   name, st->searches, st->checked, st->fails, st->tol_misses, st->max_rel, secs);
	if (plan_filter)
		printf("group %-2s %6ld of %ld searches ran a '%s' plan\n", name, st->filtered, st->searches,
			   plan_filter);
	fflush(stdout);
}

int
cmp_f(const void *a, const void *b)
{
	float		x = *(const float *) a,
				y = *(const float *) b;

	return x < y ? -1 : x > y;
}
