/*
 * kernel_check.c
 *	  Correctness check and timing of cuda/libhybridsearch_cuda.so, loaded
 *	  with dlopen() the way the GPU worker loads it.
 *
 *	  kernel_check [--lib PATH] [--groups ABCDEFGY] [--reps N] [--tune-runs N]
 *	               [--graphs 0|1] [--plans PART]
 *
 * --tune-runs N: each search adds at most N of its kind's tuning runs to
 * itself, as in the worker (hs_gpu_set_tune_runs; default 0 here: a kind
 * is tuned whole in its first search, so that timing groups time tuned
 * plans and group S runs every candidate under the sanitizers).
 * --graphs 0: every search call by call, none replayed as a CUDA graph
 * (hs_gpu_set_graphs; default 1), to time the difference.
 * --plans PART: only plans whose names contain PART ("tensor", "fused",
 * "gemm", " s3 ") are tuned or chosen where a search has one
 * (hs_gpu_set_plan_filter), so that the groups check that path at every
 * size; each group's line counts the searches that ran one.
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
 *   L  27M rows of dim 8, batches 32 and 1024: tensor blocks of more than
 *      65536 rows, whose kept rows would overflow 16 bits (with --plans
 *      tensor)
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
 *   Y  lanes: searches started and finished two at a time
 *      (hs_gpu_search_start / hs_gpu_search_finish) on 1000 to 300k rows,
 *      whole and in 3 stripes, against hs_gpu_search_parts and the
 *      reference, and the lanes' argument errors; then 1M x 768 cosine
 *      k 10, batches 1 8 32, --reps (default 50 here) back-to-back searches
 *      timed one after the other against two in flight
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

#include "kernel_check.h"

KcApi		api;
const char *plan_filter;

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
	*(void **) &api.set_plan_filter = dlsym(h, "hs_gpu_set_plan_filter");
	*(void **) &api.launch_size = dlsym(h, "hs_gpu_launch_size");
	*(void **) &api.search_start = dlsym(h, "hs_gpu_search_start");
	*(void **) &api.search_finish = dlsym(h, "hs_gpu_search_finish");
}

const char *metric_name[] = {"", "l2", "negip", "cosine", "l1"};
const int	batches[4] = {1, 8, 64, 128};
long		total_fails = 0;
int			ndevices = 1;
char		errbuf[1024];

int
main(int argc, char **argv)
{
	const char *lib = "cuda/libhybridsearch_cuda.so";
	const char *groups = "AEFDBCT";
	int			reps = 25;
	int			reps_given = 0;
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
		{
			reps = atoi(argv[++i]);
			reps_given = 1;
		}
		else if (!strcmp(argv[i], "--tune-runs") && i + 1 < argc)
			tune_runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--graphs") && i + 1 < argc)
			graphs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--plans") && i + 1 < argc)
			plan_filter = argv[++i];
		else
		{
			fprintf(stderr, "usage: %s [--lib PATH] [--groups AEFGLDBCPMTOSsY] [--reps N] [--tune-runs N] [--graphs 0|1] [--plans PART]\n", argv[0]);
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
	if (plan_filter && !api.set_plan_filter)
	{
		fprintf(stderr, "%s has no hs_gpu_set_plan_filter: --plans needs a newer build\n", lib);
		return 2;
	}
	if (plan_filter)
		api.set_plan_filter(plan_filter);
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
			case 'L':
				group_L();
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
			case 'Y':
				/* 50 by default: a sequence long enough to amortise its ends */
				group_Y(reps_given ? reps : 50);
				break;
		}
	}
	api.close();
	printf("RESULT: %ld failures\n", total_fails);
	return total_fails ? 1 : 0;
}
