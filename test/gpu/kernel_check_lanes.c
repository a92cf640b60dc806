/*
 * kernel_check_lanes.c
 *	  Group Y of kernel_check (kernel_check.h): searches in flight two at a
 *	  time on the lanes of hs_gpu_search_start / hs_gpu_search_finish.
 *
 * The correctness half runs, on each test matrix whole and in 3 stripes,
 * every kind of search (precision, metric, k, batch) in an order where
 * consecutive searches differ, each started while the one before it is
 * still in flight on the other lane: start A on lane 0, start B on lane 1,
 * finish A, start C on lane 0, finish B, ...  Each answer is checked as
 * run_case checks one (every slot written, ordered, distinct; sampled
 * queries against the float64 reference), then compared bit for bit with
 * the same search run by hs_gpu_search_parts right after.  Both run the
 * same kernels, so with the same plan only rows of tied distances may
 * trade places; a plan that changed in between (a smaller batch of the
 * same kind, started on the other lane, restarts the kind's tuning) may
 * change the bits, and then both answers must pass the reference.
 *
 * The timing half measures what the lanes are for: the time the GPU idles
 * between searches while the caller waits for one answer, takes it and
 * copies in the next queries.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "kernel_check.h"

static const int64_t y_rows[] = {1000, 70000, 300000};
static const int y_dims[] = {96, 768};
static const int y_ks[] = {1, 10, 100};
static const int y_batches[] = {1, 7, 32, 33, 64};

#define Y_KINDS		(2 * 4 * 3 * 5)	/* precision, metric, k, batch */
#define Y_STRIDE	77			/* coprime to Y_KINDS: consecutive kinds differ */
#define Y_MAXB		64
#define Y_MAXDIM	768
#define Y_NSAMPLE	2			/* queries of each answer against the reference */

/* one search on a lane, and what checking it needs */
typedef struct YSearch
{
	int			half;
	int			metric;
	int			k;				/* the true k; 2k asked, as run_case asks */
	int			batch;
	float	   *q;				/* its queries, kept for the checks */
	float	   *d;
	int64_t    *r;
	char		ctx[200];
} YSearch;

static long y_plan_changes;		/* answers that differed after a plan change */
static long y_tie_swaps;		/* slots where tied rows traded places */

static hs_gpu_matrix *const *
y_parts(Mat *M, int half, int *nparts)
{
	*nparts = M->nparts > 1 ? M->nparts : 1;
	return M->nparts > 1 ? M->parts[half] : &M->gm[half];
}

/* the i-th kind of the sequence */
static void
y_kind(int i, YSearch *s)
{
	int			j = (int) (((long) i * Y_STRIDE) % Y_KINDS);

	s->batch = y_batches[j % 5];
	s->k = y_ks[(j / 5) % 3];
	s->metric = 1 + (j / 15) % 4;
	s->half = j / 60;
}

/* the last variant's name less " [graph]": a graph replays the same kernels */
static void
y_variant(char *buf, size_t len)
{
	char	   *g;

	api.last_variant(buf, len);
	if ((g = strstr(buf, " [graph]")) != NULL)
		*g = '\0';
}

/*
 * Start s on lane from a copy of its queries in scratch, spoiled as soon
 * as the start returns: the start must have copied them.
 */
static int
y_start(Stats *st, Mat *M, int lane, YSearch *s, float *scratch)
{
	size_t		nq = (size_t) s->batch * M->dim;
	int			nparts;
	hs_gpu_matrix *const *parts = y_parts(M, s->half, &nparts);
	int			rc;

	memcpy(scratch, s->q, sizeof(float) * nq);
	st->searches++;
	rc = api.search_start(lane, parts, nparts, s->metric, scratch, s->batch, 2 * s->k, errbuf,
						  sizeof(errbuf));
	for (size_t i = 0; i < nq; i++)
		scratch[i] = NAN;
	if (rc != 0)
		report_fail(st, s->ctx, "start on lane %d returned %d: %s", lane, rc, errbuf);
	return rc;
}

/* an answer to s against the float64 reference, by the last variant's tolerance */
static void
y_reference(Stats *st, Mat *M, const YSearch *s, const float *d, const int64_t *r)
{
	int			kreq = 2 * s->k;

	for (int i = 0; i < Y_NSAMPLE && i < s->batch; i++)
	{
		int			b = i == 0 ? 0 : s->batch - 1;
		char		c2[300];

		snprintf(c2, sizeof(c2), "%s q%d", s->ctx, b);
		check_reference(st, c2, M, s->metric, s->half, s->q + (size_t) b * M->dim, kreq, s->k,
						d + (size_t) b * kreq, r + (size_t) b * kreq);
	}
}

/*
 * The same plan gave other bits than hs_gpu_search_parts (d2, r2): allowed
 * only where rows of distances within 1e-5 of each other (relative)
 * traded places.
 */
static void
y_ties(Stats *st, const YSearch *s, const float *d2, const int64_t *r2, const char *var)
{
	size_t		n = (size_t) s->batch * 2 * s->k;

	for (size_t j = 0; j < n; j++)
	{
		float		a = s->d[j],
					c = d2[j];

		if (s->r[j] == r2[j] && memcmp(&a, &c, sizeof(float)) == 0)
			continue;
		if ((isnan(a) && isnan(c)) || fabsf(a - c) <= 1e-5f * fmaxf(fabsf(a), fabsf(c)))
		{
			y_tie_swaps++;
			continue;
		}
		report_fail(st, s->ctx, "slot %zu: lane row %lld dist %.9g, hs_gpu_search_parts row %lld dist %.9g (same plan %s)",
					j, (long long) s->r[j], a, (long long) r2[j], c, var);
		return;
	}
}

/* finish lane's search s and check its answer */
static void
y_finish(Stats *st, Mat *M, int lane, YSearch *s)
{
	int			kreq = 2 * s->k;
	size_t		n = (size_t) s->batch * kreq;
	int			nparts;
	hs_gpu_matrix *const *parts = y_parts(M, s->half, &nparts);
	float	   *d2 = malloc(sizeof(float) * n);
	int64_t    *r2 = malloc(sizeof(int64_t) * n);
	uint32_t	pb = POISON_BITS;
	char		var[128],
				var2[128];
	float		ms = -1;
	int			rc;

	for (size_t i = 0; i < n; i++)
	{
		memcpy(&s->d[i], &pb, 4);
		s->r[i] = POISON_ROW;
	}
	rc = api.search_finish(lane, s->d, s->r, &ms, errbuf, sizeof(errbuf));
	if (rc != 0)
	{
		report_fail(st, s->ctx, "finish returned %d: %s", rc, errbuf);
		goto out;
	}
	if (!(ms >= 0))
		report_fail(st, s->ctx, "finish gave kernel_ms %g", ms);
	y_variant(var, sizeof(var));
	if (plan_filter)
		st->filtered += strstr(var, plan_filter) != NULL;
	for (int b = 0; b < s->batch; b++)
	{
		char		c2[300];

		snprintf(c2, sizeof(c2), "%s q%d", s->ctx, b);
		if (check_structure(st, c2, M->n, kreq, s->d + (size_t) b * kreq, s->r + (size_t) b * kreq))
			goto out;
	}
	y_reference(st, M, s, s->d, s->r);

	/* the same search, synchronously, after the lane's */
	st->searches++;
	rc = api.search_parts(parts, nparts, s->metric, s->q, s->batch, kreq, d2, r2, NULL, errbuf,
						  sizeof(errbuf));
	if (rc != 0)
	{
		report_fail(st, s->ctx, "hs_gpu_search_parts returned %d: %s", rc, errbuf);
		goto out;
	}
	if (memcmp(s->d, d2, sizeof(float) * n) == 0 && memcmp(s->r, r2, sizeof(int64_t) * n) == 0)
		goto out;
	y_variant(var2, sizeof(var2));
	if (strcmp(var, var2) != 0)
	{
		/* the autotuner moved on in between: each answer by its own plan */
		y_plan_changes++;
		y_reference(st, M, s, d2, r2);
	}
	else
		y_ties(st, s, d2, r2, var);
out:
	free(d2);
	free(r2);
}

/*
 * Every kind once, two in flight: start i on lane i % 2 once that lane's
 * last search (i - 2) is finished, so that i - 1 is in flight meanwhile.
 */
static void
y_sequence(Stats *st, Mat *M, uint64_t seed, YSearch *slot, float *scratch)
{
	int			held[2] = {0, 0};

	for (int i = 0; i < Y_KINDS + 2; i++)
	{
		int			lane = i % 2;
		YSearch    *s = &slot[lane];

		if (held[lane])
			y_finish(st, M, lane, s);
		held[lane] = 0;
		if (i >= Y_KINDS)
			continue;
		y_kind(i, s);
		gen(s->q, s->batch, M->dim, seed + i, 0);
		snprintf(s->ctx, sizeof(s->ctx), "Y n=%lld dim=%d parts=%d %s %s batch=%d k=%d lane %d",
				 (long long) M->n, M->dim, M->nparts > 1 ? M->nparts : 1, metric_name[s->metric],
				 s->half ? "fp16" : "fp32", s->batch, s->k, lane);
		held[lane] = y_start(st, M, lane, s, scratch) == 0;
	}
}

/* a call that must give HS_GPU_EINVAL and a message */
static void
y_expect_einval(Stats *st, const char *ctx, const char *what, int rc)
{
	if (rc != HS_GPU_EINVAL || !errbuf[0])
		report_fail(st, ctx, "%s: rc %d (%s), expected HS_GPU_EINVAL with a message", what, rc, errbuf);
}

/* the lanes' argument errors, with every lane free before and after */
static void
y_errors(Stats *st, Mat *M, YSearch *slot, float *scratch)
{
	YSearch    *s = &slot[0];
	int			nparts;
	hs_gpu_matrix *const *parts = y_parts(M, 0, &nparts);
	int			bad[] = {-1, HS_GPU_LANES};
	char		ctx[120];

	snprintf(ctx, sizeof(ctx), "Y errors n=%lld dim=%d parts=%d", (long long) M->n, M->dim, nparts);
	s->half = 0;
	s->metric = HS_GPU_L2;
	s->k = 10;
	s->batch = 7;
	gen(s->q, s->batch, M->dim, 4711, 0);
	gen(slot[1].q, 3, M->dim, 4712, 0);
	snprintf(s->ctx, sizeof(s->ctx), "%s: the first of two starts on lane 0", ctx);
	for (int i = 0; i < 2; i++)
	{
		errbuf[0] = 0;
		y_expect_einval(st, ctx, bad[i] < 0 ? "start on lane -1" : "start on lane HS_GPU_LANES",
						api.search_start(bad[i], parts, nparts, s->metric, s->q, s->batch, 20,
										 errbuf, sizeof(errbuf)));
		errbuf[0] = 0;
		y_expect_einval(st, ctx, bad[i] < 0 ? "finish of lane -1" : "finish of lane HS_GPU_LANES",
						api.search_finish(bad[i], s->d, s->r, NULL, errbuf, sizeof(errbuf)));
	}
	for (int lane = 0; lane < HS_GPU_LANES; lane++)
	{
		errbuf[0] = 0;
		y_expect_einval(st, ctx, "finish of a free lane",
						api.search_finish(lane, s->d, s->r, NULL, errbuf, sizeof(errbuf)));
	}
	/* a start on a started lane is refused and leaves the first search */
	if (y_start(st, M, 0, s, scratch) == 0)
	{
		errbuf[0] = 0;
		y_expect_einval(st, ctx, "a second start on lane 0",
						api.search_start(0, parts, nparts, HS_GPU_COSINE, slot[1].q, 3, 5, errbuf,
										 sizeof(errbuf)));
		y_finish(st, M, 0, s);
		errbuf[0] = 0;
		y_expect_einval(st, ctx, "a second finish of lane 0",
						api.search_finish(0, s->d, s->r, NULL, errbuf, sizeof(errbuf)));
	}
	/* a failed start leaves its lane free */
	errbuf[0] = 0;
	y_expect_einval(st, ctx, "start with metric 9",
					api.search_start(1, parts, nparts, 9, s->q, s->batch, 20, errbuf, sizeof(errbuf)));
	errbuf[0] = 0;
	y_expect_einval(st, ctx, "finish of lane 1 after its failed start",
					api.search_finish(1, s->d, s->r, NULL, errbuf, sizeof(errbuf)));
	snprintf(s->ctx, sizeof(s->ctx), "%s: a start on lane 1 after its failed start", ctx);
	if (y_start(st, M, 1, s, scratch) == 0)
		y_finish(st, M, 1, s);
}

/*
 * reps back-to-back searches of batch queries on m, the host copying each
 * batch in from pool first: one after the other through
 * hs_gpu_search_parts, or pipelined on two lanes (start the next, then
 * finish the last).  Answer i goes to d / r + i * batch * k.  Milliseconds
 * a search, or -1 after a failure (its message in errbuf).
 */
static double
y_run(hs_gpu_matrix *m, int pipelined, const float *pool, float *q, int batch, int k, int reps,
	  float *d, int64_t *r)
{
	size_t		qn = (size_t) batch * Y_MAXDIM,
				an = (size_t) batch * k;
	int			started[2] = {0, 0};
	int			rc = 0;
	double		t0 = now_s(),
				ms;

	for (int i = 0; i < reps && rc == 0; i++)
	{
		memcpy(q, pool + i * qn, sizeof(float) * qn);
		if (!pipelined)
		{
			rc = api.search_parts(&m, 1, HS_GPU_COSINE, q, batch, k, d + i * an, r + i * an, NULL,
								  errbuf, sizeof(errbuf));
			continue;
		}
		rc = api.search_start(i % 2, &m, 1, HS_GPU_COSINE, q, batch, k, errbuf, sizeof(errbuf));
		started[i % 2] = rc == 0;
		if (rc == 0 && i > 0)
		{
			started[(i - 1) % 2] = 0;
			rc = api.search_finish((i - 1) % 2, d + (i - 1) * an, r + (i - 1) * an, NULL, errbuf,
								   sizeof(errbuf));
		}
	}
	if (rc == 0 && pipelined)
	{
		started[(reps - 1) % 2] = 0;
		rc = api.search_finish((reps - 1) % 2, d + (reps - 1) * an, r + (reps - 1) * an, NULL,
							   errbuf, sizeof(errbuf));
	}
	ms = (now_s() - t0) * 1e3 / reps;
	/* after a failure, free what is still started (its answer is lost) */
	for (int lane = 0; lane < 2; lane++)
		if (started[lane])
			api.search_finish(lane, d, r, NULL, NULL, 0);
	return rc == 0 ? ms : -1;
}

static void
y_timing(int reps)
{
	Mat			M;
	double		t0 = now_s();
	int			tb[] = {1, 8, 32};
	int			k = 10;
	size_t		an = (size_t) reps * 32 * k;
	float	   *pool = malloc(sizeof(float) * (size_t) reps * 32 * Y_MAXDIM);
	float	   *q = malloc(sizeof(float) * 32 * Y_MAXDIM);
	float	   *d[3];
	int64_t    *r[3];
	char		lines[6][200];
	int			nl = 0;

	for (int i = 0; i < 3; i++)
	{
		d[i] = malloc(sizeof(float) * an);
		r[i] = malloc(sizeof(int64_t) * an);
	}
	mat_build(&M, 1000000, Y_MAXDIM, 2024, 0, -1);
	gen(pool, (int64_t) reps * 32, Y_MAXDIM, 5150, 0);
	for (int h = 0; h < 2; h++)
		for (int bi = 0; bi < 3; bi++)
		{
			int			b = tb[bi];
			float		ms[2][3];
			char		var[128];
			size_t		n = (size_t) reps * b * k;
			int			ok;

			/* tune the kind and warm both ways up first */
			ok = y_run(M.gm[h], 0, pool, q, b, k, reps < 3 ? reps : 3, d[0], r[0]) >= 0 &&
				y_run(M.gm[h], 1, pool, q, b, k, reps < 3 ? reps : 3, d[1], r[1]) >= 0;
			for (int rep = 0; rep < 3 && ok; rep++)
				for (int p = 0; p < 2 && ok; p++)
				{
					ms[p][rep] = (float) y_run(M.gm[h], p, pool, q, b, k, reps, d[p], r[p]);
					ok = ms[p][rep] >= 0;
				}
			if (!ok)
			{
				printf("FAIL Y timing %s batch %d: %s\n", h ? "fp16" : "fp32", b, errbuf);
				total_fails++;
				continue;
			}
			api.last_variant(var, sizeof(var));
			if (memcmp(d[0], d[1], sizeof(float) * n) != 0 || memcmp(r[0], r[1], sizeof(int64_t) * n) != 0)
			{
				/* a plan still being tuned (--tune-runs) may change the
				 * bits; the pipelined ones must match a settled answer */
				if (y_run(M.gm[h], 0, pool, q, b, k, reps, d[2], r[2]) >= 0 &&
					memcmp(d[0], d[2], sizeof(float) * n) == 0 &&
					memcmp(r[0], r[2], sizeof(int64_t) * n) == 0)
				{
					printf("FAIL Y timing %s batch %d: pipelined answers differ from synchronous ones (%s)\n",
						   h ? "fp16" : "fp32", b, var);
					total_fails++;
				}
				else
					printf("  Y timing %s batch %d: plan still tuning, answers not compared\n",
						   h ? "fp16" : "fp32", b);
			}
			qsort(ms[0], 3, sizeof(float), cmp_f);
			qsort(ms[1], 3, sizeof(float), cmp_f);
			snprintf(lines[nl++], sizeof(lines[0]), "%5d %4s %8.3f %8.3f %6.2f  %s", b,
					 h ? "fp16" : "fp32", ms[0][1], ms[1][1], ms[0][1] / ms[1][1], var);
		}
	mat_free(&M);
	printf("---- Y timing (1M x 768 cosine k=10; %d back-to-back searches, median of 3 sequences; ms a search) ----\n",
		   reps);
	printf("batch prec  sync_ms  pipe_ms  ratio  variant\n");
	for (int i = 0; i < nl; i++)
		printf("%s\n", lines[i]);
	printf("Y timing done (%.1f s)\n", now_s() - t0);
	for (int i = 0; i < 3; i++)
	{
		free(d[i]);
		free(r[i]);
	}
	free(pool);
	free(q);
}

void
group_Y(int reps)
{
	Stats		st = {0};
	double		t0 = now_s();
	YSearch		slot[2];
	float	   *scratch = malloc(sizeof(float) * Y_MAXB * Y_MAXDIM);

	if (!api.search_start || !api.search_finish)
	{
		printf("FAIL group Y: the module has no hs_gpu_search_start / hs_gpu_search_finish (API version 3)\n");
		total_fails++;
		free(scratch);
		return;
	}
	for (int l = 0; l < 2; l++)
	{
		slot[l].q = malloc(sizeof(float) * Y_MAXB * Y_MAXDIM);
		slot[l].d = malloc(sizeof(float) * Y_MAXB * 2 * 100);
		slot[l].r = malloc(sizeof(int64_t) * Y_MAXB * 2 * 100);
	}
	y_plan_changes = y_tie_swaps = 0;
	for (int ni = 0; ni < 3; ni++)
		for (int di = 0; di < 2; di++)
		{
			Mat			M;
			uint64_t	seed = 8800 + ni * 10 + di;

			mat_build(&M, y_rows[ni], y_dims[di], seed, 0, 3);
			for (int split = 0; split < 2; split++)
			{
				if (split)
					mat_split(&M, 3);
				y_errors(&st, &M, slot, scratch);
				y_sequence(&st, &M, seed * 1000 + split * 500, slot, scratch);
			}
			mat_free(&M);
			printf("  Y %lld x %d done (%.1f s)\n", (long long) y_rows[ni], y_dims[di], now_s() - t0);
			fflush(stdout);
		}
	printf("  Y: %ld answers differed from hs_gpu_search_parts' after a plan change (both checked against the reference); "
		   "%ld slots of tied rows traded places\n", y_plan_changes, y_tie_swaps);
	print_stats("Y", &st, now_s() - t0);
	for (int l = 0; l < 2; l++)
	{
		free(slot[l].q);
		free(slot[l].d);
		free(slot[l].r);
	}
	free(scratch);
	y_timing(reps);
}
