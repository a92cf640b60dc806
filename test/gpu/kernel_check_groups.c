/*
 * kernel_check_groups.c
 *	  The correctness groups of kernel_check (kernel_check.h).
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "kernel_check.h"

void
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

void
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

void
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

void
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
void
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

void
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

/*
 * L: blocks of the tensor kernel that cover more than 65536 rows.  It
 * counts a kept key's row from the step after its last selection in 16
 * bits and selects before that would overflow, even with nothing kept;
 * at 1M rows no block comes near it.  27M rows of dim 8: a batch of 32
 * (one query tile) gives each block more than 65536 rows at up to 3
 * blocks a SM, and 1024 (16 tiles of 64) gives them several times that.
 * Run with --plans tensor (or " e64 ") for the tensor kernel to serve it.
 */
void
group_L(void)
{
	Stats		st = {0};
	double		t0 = now_s();
	int			batches_l[] = {32, 1024};
	Mat			M;

	mat_build(&M, 27000000, 8, 2727, 0, 3);
	for (int bi = 0; bi < 2; bi++)
		for (int metric = 1; metric <= 3; metric++)
			for (int h = 0; h < 2; h++)
				for (int kk = 0; kk < 2; kk++)
					run_case(&st, "L", &M, metric, h, batches_l[bi], kk ? 100 : 10, 3,
							 700 + bi * 100 + metric * 10 + h * 2 + kk);
	mat_free(&M);
	print_stats("L", &st, now_s() - t0);
}

/* small enough for compute-sanitizer: s = 3000 x 100 only; S adds 60000 x 768
 * (autotuned, so every candidate variant and the GEMM path run) and k = 4096 */
void
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

void
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
