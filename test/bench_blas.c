/*
 * bench_blas.c
 *	  The OpenBLAS floors: for one query, cblas_sgemv of an N x D fp32
 *	  matrix against one vector, the arithmetic a CPU scan cannot beat by
 *	  much; for a batch of Q queries (-q Q,...), cblas_sgemm of the queries
 *	  by the matrix, the product a batched pass computes (its top-k
 *	  selection not counted).  Prints the median over repeats for 1 and for
 *	  all threads.
 *
 *	  bench_blas [-n ROWS] [-d DIMS] [-r REPEATS] [-q QUERIES,...]
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock_ms.h"

extern void openblas_set_num_threads(int);
extern int	openblas_get_num_procs(void);

static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
median_sgemv_ms(const float *matrix, const float *query, float *out, long rows, int dims,
				int repeats)
{
	double	   *times = malloc(sizeof(double) * repeats);
	double		median;

	for (int r = 0; r < repeats; r++)
	{
		double		start = now_ms();

		cblas_sgemv(CblasRowMajor, CblasNoTrans, (int) rows, dims, 1.0f, matrix, dims,
					query, 1, 0.0f, out, 1);
		times[r] = now_ms() - start;
	}
	qsort(times, repeats, sizeof(double), compare_doubles);
	median = times[repeats / 2];
	free(times);
	return median;
}

/*
 * The product in slices of slice_rows rows: 128 is what each thread of the
 * batched pass multiplies at a time; the whole matrix in one call lets
 * OpenBLAS split it over its own threads.
 */
static double
median_sgemm_ms(const float *matrix, const float *queries, int nq, float *out, long rows,
				int dims, long slice_rows, int repeats)
{
	double	   *times = malloc(sizeof(double) * repeats);
	double		median;

	for (int r = 0; r < repeats; r++)
	{
		double		start = now_ms();

		for (long first = 0; first < rows; first += slice_rows)
		{
			int			slice = rows - first < slice_rows ? (int) (rows - first) : (int) slice_rows;

			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, slice, dims, 1.0f,
						queries, dims, matrix + first * dims, dims, 0.0f, out, slice);
		}
		times[r] = now_ms() - start;
	}
	qsort(times, repeats, sizeof(double), compare_doubles);
	median = times[repeats / 2];
	free(times);
	return median;
}

static void
print_sgemm(const float *matrix, long rows, int dims, int repeats, const char *counts, int procs)
{
	char	   *list = strdup(counts);

	printf("\n| OpenBLAS sgemm Q x %ld x %d fp32 | threads | rows per call | median ms | ms per query |\n",
		   rows, dims);
	printf("|---|--:|--:|--:|--:|\n");
	for (char *item = strtok(list, ","); item != NULL; item = strtok(NULL, ","))
	{
		int			nq = atoi(item);
		float	   *queries = malloc(sizeof(float) * nq * dims);
		float	   *out = malloc(sizeof(float) * nq * rows);

		for (int i = 0; i < nq * dims; i++)
			queries[i] = (float) rand() / RAND_MAX - 0.5f;
		for (int threads = 1; threads <= procs; threads = (threads == procs ? procs + 1 : procs))
		{
			long		slice_rows = threads == 1 ? 128 : rows;
			double		ms;

			openblas_set_num_threads(threads);
			median_sgemm_ms(matrix, queries, nq, out, rows, dims, slice_rows, 1);	/* warm up */
			ms = median_sgemm_ms(matrix, queries, nq, out, rows, dims, slice_rows, repeats);
			printf("| sgemm, Q = %d | %d | %ld | %.2f | %.3f |\n", nq, threads, slice_rows, ms, ms / nq);
		}
		free(queries);
		free(out);
	}
	free(list);
}

int
main(int argc, char **argv)
{
	long		rows = 100000;
	int			dims = 768;
	int			repeats = 21;
	const char *batch_counts = NULL;
	int			opt;
	float	   *matrix;
	float	   *query;
	float	   *out;
	int			procs;

	while ((opt = getopt(argc, argv, "n:d:r:q:")) != -1)
	{
		if (opt == 'n')
			rows = atol(optarg);
		else if (opt == 'd')
			dims = atoi(optarg);
		else if (opt == 'r')
			repeats = atoi(optarg);
		else if (opt == 'q')
			batch_counts = optarg;
		else
		{
			fprintf(stderr, "usage: %s [-n rows] [-d dims] [-r repeats] [-q queries,...]\n", argv[0]);
			return 2;
		}
	}
	matrix = malloc(sizeof(float) * rows * dims);
	query = malloc(sizeof(float) * dims);
	out = malloc(sizeof(float) * rows);
	if (!matrix || !query || !out)
	{
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	srand(1);
	for (long i = 0; i < rows * dims; i++)
		matrix[i] = (float) rand() / RAND_MAX - 0.5f;
	for (int i = 0; i < dims; i++)
		query[i] = (float) rand() / RAND_MAX - 0.5f;

	procs = openblas_get_num_procs();
	printf("| OpenBLAS sgemv %ld x %d fp32 | threads | median ms | GB/s |\n", rows, dims);
	printf("|---|--:|--:|--:|\n");
	for (int threads = 1; threads <= procs; threads = (threads == procs ? procs + 1 : procs))
	{
		double		ms;

		openblas_set_num_threads(threads);
		median_sgemv_ms(matrix, query, out, rows, dims, 3);	/* warm up */
		ms = median_sgemv_ms(matrix, query, out, rows, dims, repeats);
		printf("| sgemv | %d | %.2f | %.1f |\n", threads, ms,
			   (double) rows * dims * sizeof(float) / (ms * 1e6));
	}
	if (batch_counts != NULL)
		print_sgemm(matrix, rows, dims, repeats, batch_counts, procs);
	free(matrix);
	free(query);
	free(out);
	return 0;
}
