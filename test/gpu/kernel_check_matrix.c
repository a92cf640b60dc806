/*
 * kernel_check_matrix.c
 *	  Test matrices on the GPU and one checked search (kernel_check.h).
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "kernel_check.h"

void
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
void
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

int
mat_search(Mat *M, int half, int metric, const float *q, int batch, int k, float *d, int64_t *r,
		   float *ms)
{
	if (M->nparts > 1)
		return api.search_parts(M->parts[half], M->nparts, metric, q, batch, k, d, r, ms,
								errbuf, sizeof(errbuf));
	return api.search(M->gm[half], metric, q, batch, k, d, r, ms, errbuf, sizeof(errbuf));
}

void
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
void
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
	if (plan_filter)
	{
		char		var[96];

		api.last_variant(var, sizeof(var));
		st->filtered += strstr(var, plan_filter) != NULL;
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

/* one search of q, its answer in d / r and its variant in var */
int
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
int64_t
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
