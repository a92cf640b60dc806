/*
 * kernel_check_timing.c
 *	  The timing groups of kernel_check: M, T and O (kernel_check.h).
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "kernel_check.h"

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

void
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

/*
 * The launch sizes hs_gpu_launch_size chooses for batches past a tile, by
 * the times group T tuned; a failure when one is out of 1..nq, or is not
 * the whole batch or a power of two (a full tile of a smaller bucket).
 */
static void
launch_sizes(hs_gpu_matrix *m, int half, int metric, int k, char *line, size_t len)
{
	static const int waiting[] = {2, 9, 33, 40, 48, 64, 100, 128};
	int			used = snprintf(line, len, "%s %-6s k %3d:", half ? "fp16" : "fp32", metric_name[metric], k);

	for (int i = 0; i < (int) (sizeof(waiting) / sizeof(waiting[0])) && used < (int) len; i++)
	{
		int			nq = waiting[i];
		int			size = api.launch_size(&m, 1, metric, nq, k);

		if (size < 1 || size > nq || (size != nq && (size & (size - 1)) != 0))
		{
			printf("FAIL launch size %d of %d waiting (%s k %d)\n", size, nq, metric_name[metric], k);
			total_fails++;
		}
		used += snprintf(line + used, len - used, " %d->%d", nq, size);
	}
}

void
group_T(int reps)
{
	Mat			M;
	double		t0 = now_s();
	int			metrics[] = {HS_GPU_COSINE, HS_GPU_L2};
	/* 20: what a backend asks for LIMIT 10 */
	int			ks[] = {10, 20, 100};
	/* 32: about what a launch serves with 64 clients */
	int			tb[] = {1, 8, 32, 64, 128};
	char		lines[128][200];
	char		sizes[16][200];
	int			nl = 0,
				ns = 0;

	mat_build(&M, 1000000, 768, 2024, 0, -1);
	/* untuned kinds launch whole */
	if (api.launch_size && api.launch_size(&M.gm[0], 1, HS_GPU_COSINE, 33, 200) != 33)
	{
		printf("FAIL launch size: an untuned kind of 33 queries is not launched whole\n");
		total_fails++;
	}
	printf("T: 1M x 768, median of %d runs after 3 warm-ups\n", reps);
	for (int h = 0; h < 2; h++)
	{
		size_t		bytes = (size_t) M.n * 768 * (h ? 2 : 4);
		float		read_ms = -1,
					copy_ms = -1,
					gemm_ms[5];

		for (int bi = 0; bi < 5; bi++)
		{
			float		r_ms,
						c_ms;

			if (api.bench(M.gm[h], tb[bi], reps, &r_ms, &c_ms, &gemm_ms[bi], errbuf, sizeof(errbuf)) != 0)
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
			   "cuBLAS GEMM alone: b1 %.3f b8 %.3f b32 %.3f b64 %.3f b128 %.3f ms\n",
			   h ? "fp16" : "fp32", bytes / 1e9, read_ms, bytes / read_ms / 1e6, copy_ms,
			   2.0 * bytes / copy_ms / 1e6, gemm_ms[0], gemm_ms[1], gemm_ms[2], gemm_ms[3], gemm_ms[4]);
		for (int mi = 0; mi < 2; mi++)
			for (int ki = 0; ki < 3; ki++)
				for (int bi = 0; bi < 5; bi++)
				{
					int			b = tb[bi],
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

						if (nl < 128)
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
		for (int mi = 0; mi < 2 && api.launch_size; mi++)
			for (int ki = 0; ki < 3; ki++)
				launch_sizes(M.gm[h], h, metrics[mi], ks[ki], sizes[ns++], sizeof(sizes[0]));
	}
	mat_free(&M);
	printf("T done (%.1f s)\n", now_s() - t0);
	{
		static char rep[8 << 20];

		api.tune_report(rep, sizeof(rep));
		printf("---- autotune cache ----\n%s---- end of autotune cache ----\n", rep);
	}
	printf("---- launch sizes (hs_gpu_launch_size: queries waiting -> queries launched) ----\n");
	for (int i = 0; i < ns; i++)
		printf("%s\n", sizes[i]);
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

void
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
