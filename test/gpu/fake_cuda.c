/*
 * fake_cuda.c
 *	  A stand-in for cuda/libhybridsearch_cuda.so that computes on the CPU:
 *	  one "device", matrices in host memory, exact top k by brute force.
 *
 * It lets a machine without a GPU run the GPU worker's whole request path
 * (its CUDA host process, the channel, striped appends, batched searches
 * over parts, eviction, NEED_ROWS after a host restart) with real answers:
 *
 *   cc -O2 -shared -fPIC -Icuda -o libhybridsearch_cuda.so test/gpu/fake_cuda.c -lm
 *   cp libhybridsearch_cuda.so $(pg_config --pkglibdir)/
 *
 * (or start the server with HYBRIDSEARCH_CUDA_MODULE=/path/to/it in its
 * environment, as test/t/125_gpu_worker_stand_in.pl does), then the suites
 * with hybridsearch.device = gpu see a ready GPU.  Only the entry points
 * the worker uses exist; distances follow hs_gpu.h.  hs_gpu_search_start
 * computes its answer at once and holds it on its lane until
 * hs_gpu_search_finish, so that two searches in flight give exactly what
 * hs_gpu_search_parts gives.  With
 * HS_FAKE_LAUNCH_MAX=N in the server's environment, a launch takes at most
 * N of the queries waiting (hs_gpu_launch_size), so that the worker's
 * deferral of the rest to its next round is exercised; with
 * HS_FAKE_KERNEL_MS=T each lane's search takes T ms of a simulated device
 * (below), so that its launches in flight and its pacing are.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/clock_ms.h"
#include "hs_gpu.h"

struct hs_gpu_matrix
{
	int			dim;
	int64_t		rows;
	int64_t		cap;
	float	   *data;
};

typedef struct Hit
{
	float		d;
	int64_t		row;
} Hit;

int
hs_gpu_device_count(int *count, char *errbuf, size_t errlen)
{
	(void) errbuf;
	(void) errlen;
	*count = 1;
	return HS_GPU_OK;
}

int
hs_gpu_open(int device, char *errbuf, size_t errlen)
{
	if (device == 0)
		return HS_GPU_OK;
	snprintf(errbuf, errlen, "fake cuda: no device %d", device);
	return HS_GPU_EINVAL;
}

void
hs_gpu_close(void)
{
}

hs_gpu_matrix *
hs_gpu_matrix_create(int device, int dim, int half, char *errbuf, size_t errlen)
{
	hs_gpu_matrix *m = calloc(1, sizeof(hs_gpu_matrix));

	(void) device;
	(void) half;
	if (m == NULL)
		snprintf(errbuf, errlen, "fake cuda: out of host memory");
	else
		m->dim = dim;
	return m;
}

int
hs_gpu_matrix_reserve(hs_gpu_matrix *m, int64_t nrows, char *errbuf, size_t errlen)
{
	(void) m;
	(void) nrows;
	(void) errbuf;
	(void) errlen;
	return 0;
}

int
hs_gpu_matrix_append(hs_gpu_matrix *m, const float *rows, int64_t nrows, char *errbuf,
					 size_t errlen)
{
	if (m->rows + nrows > m->cap)
	{
		int64_t		cap = m->cap * 2 > m->rows + nrows ? m->cap * 2 : m->rows + nrows;
		float	   *data = realloc(m->data, sizeof(float) * m->dim * cap);

		if (data == NULL)
		{
			snprintf(errbuf, errlen, "fake cuda: out of host memory");
			return HS_GPU_ENOMEM;
		}
		m->data = data;
		m->cap = cap;
	}
	memcpy(m->data + m->rows * m->dim, rows, sizeof(float) * m->dim * nrows);
	m->rows += nrows;
	return HS_GPU_OK;
}

int64_t
hs_gpu_matrix_rows(const hs_gpu_matrix *m)
{
	return m->rows;
}

size_t
hs_gpu_matrix_bytes(const hs_gpu_matrix *m)
{
	return sizeof(float) * m->dim * m->cap;
}

void
hs_gpu_matrix_free(hs_gpu_matrix *m)
{
	free(m->data);
	free(m);
}

static float
distance(int metric, const float *a, const float *b, int dim)
{
	double		dot = 0,
				aa = 0,
				bb = 0,
				l1 = 0,
				l2 = 0;

	for (int i = 0; i < dim; i++)
	{
		dot += (double) a[i] * b[i];
		aa += (double) a[i] * a[i];
		bb += (double) b[i] * b[i];
		l1 += fabs((double) a[i] - b[i]);
		l2 += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
	}
	switch (metric)
	{
		case HS_GPU_L2:
			return (float) sqrt(l2);
		case HS_GPU_NEG_IP:
			return (float) -dot;
		case HS_GPU_COSINE:
			if (aa == 0 || bb == 0)
				return NAN;
			return (float) (1.0 - fmax(-1.0, fmin(1.0, dot / sqrt(aa * bb))));
		default:
			return (float) l1;
	}
}

/* distance ascending, then row; NaN after every number; empty slots last */
static int
hit_order(const void *x, const void *y)
{
	const Hit  *a = x;
	const Hit  *b = y;
	int			ra = a->row < 0 ? 2 : isnan(a->d);
	int			rb = b->row < 0 ? 2 : isnan(b->d);

	if (ra != rb)
		return ra - rb;
	if (ra == 0 && a->d != b->d)
		return a->d < b->d ? -1 : 1;
	return (a->row > b->row) - (a->row < b->row);
}

/*
 * A search's arguments, checked as the module checks them: besides the
 * message, this keeps the sizes of the buffers made from them sane.
 */
static int
check_search(int nparts, int metric, int nqueries, int k, char *errbuf, size_t errlen)
{
	if (nparts < 1 || nparts > HS_GPU_MAX_PARTS || metric < HS_GPU_L2 || metric > HS_GPU_L1 ||
		nqueries < 0 || k < 1 || k > HS_GPU_MAX_K)
	{
		snprintf(errbuf, errlen, "fake cuda: bad search (%d parts, metric %d, %d queries, k %d)",
				 nparts, metric, nqueries, k);
		return HS_GPU_EINVAL;
	}
	return HS_GPU_OK;
}

/*
 * The exact top k of each query over the parts: what hs_gpu_search_parts
 * and a lane's start both answer, so that they cannot differ.
 */
static int
search_exact(hs_gpu_matrix *const *parts, int nparts, int metric, const float *queries,
			 int nqueries, int k, float *out_distances, int64_t *out_rows, char *errbuf,
			 size_t errlen)
{
	int64_t		total = 0;
	Hit		   *hits;
	int			rc = check_search(nparts, metric, nqueries, k, errbuf, errlen);

	if (rc != HS_GPU_OK)
		return rc;
	for (int p = 0; p < nparts; p++)
		total += parts[p]->rows;
	hits = malloc(sizeof(Hit) * (total + k));
	if (hits == NULL)
	{
		snprintf(errbuf, errlen, "fake cuda: out of host memory");
		return HS_GPU_ENOMEM;
	}
	for (int q = 0; q < nqueries; q++)
	{
		int64_t		n = 0;

		for (int p = 0; p < nparts; p++)
			for (int64_t r = 0; r < parts[p]->rows; r++)
			{
				hits[n].d = distance(metric, queries + (size_t) q * parts[p]->dim,
									 parts[p]->data + r * parts[p]->dim, parts[p]->dim);
				hits[n++].row = r * nparts + p;
			}
		for (int i = 0; i < k; i++)
		{
			hits[n + i].d = INFINITY;
			hits[n + i].row = -1;
		}
		qsort(hits, n + k, sizeof(Hit), hit_order);
		for (int i = 0; i < k; i++)
		{
			out_distances[(size_t) q * k + i] = hits[i].row < 0 ? INFINITY : hits[i].d;
			out_rows[(size_t) q * k + i] = hits[i].row;
		}
	}
	free(hits);
	return HS_GPU_OK;
}

int
hs_gpu_search_parts(hs_gpu_matrix *const *parts, int nparts, int metric, const float *queries,
					int nqueries, int k, float *out_distances, int64_t *out_rows,
					float *kernel_ms, char *errbuf, size_t errlen)
{
	int			rc = search_exact(parts, nparts, metric, queries, nqueries, k, out_distances,
								  out_rows, errbuf, errlen);

	if (rc == HS_GPU_OK && kernel_ms != NULL)
		*kernel_ms = 0.0f;
	return rc;
}

/*
 * A lane of hs_gpu_search_start: the answer, computed in the start, that
 * its finish hands over.  There is no device to overlap with, so holding
 * the answer is all a lane has to do.
 */
typedef struct Lane
{
	int			started;
	size_t		nslots;			/* nqueries * k */
	float	   *distances;
	int64_t    *rows;
	double		done_at;		/* when the simulated device is through with it */
} Lane;

/*
 * HS_FAKE_KERNEL_MS=T in the server's environment makes each lane's
 * search take T ms of a simulated device that runs one search at a time,
 * in the order started: a finish waits until its search's turn is over
 * and reports T as its kernel time.  So the worker's launches in flight
 * and its pacing run as against a GPU.
 */
static double device_free_at = 0.0;

static double
fake_kernel_ms(void)
{
	const char *ms = getenv("HS_FAKE_KERNEL_MS");

	return ms ? fmax(0.0, atof(ms)) : 0.0;
}

static Lane lanes[HS_GPU_LANES];

/* lane's state, or NULL and why not */
static Lane *
lane_of(int lane, char *errbuf, size_t errlen)
{
	if (lane >= 0 && lane < HS_GPU_LANES)
		return &lanes[lane];
	snprintf(errbuf, errlen, "fake cuda: lane %d is not in 0..%d", lane, HS_GPU_LANES - 1);
	return NULL;
}

int
hs_gpu_search_start(int lane, hs_gpu_matrix *const *parts, int nparts, int metric,
					const float *queries, int nqueries, int k, char *errbuf, size_t errlen)
{
	Lane	   *l;
	size_t		nslots;
	int			rc;

	if ((l = lane_of(lane, errbuf, errlen)) == NULL)
		return HS_GPU_EINVAL;
	if (l->started)
	{
		snprintf(errbuf, errlen, "fake cuda: a search is already started on lane %d", lane);
		return HS_GPU_EINVAL;
	}
	rc = check_search(nparts, metric, nqueries, k, errbuf, errlen);
	if (rc != HS_GPU_OK)
		return rc;
	nslots = (size_t) nqueries * k;
	/* + 1: malloc(0) may give NULL, which would read as out of memory */
	l->distances = malloc(sizeof(float) * (nslots + 1));
	l->rows = malloc(sizeof(int64_t) * (nslots + 1));
	if (l->distances == NULL || l->rows == NULL)
	{
		snprintf(errbuf, errlen, "fake cuda: out of host memory");
		rc = HS_GPU_ENOMEM;
	}
	else
		rc = search_exact(parts, nparts, metric, queries, nqueries, k, l->distances, l->rows,
						  errbuf, errlen);
	if (rc != HS_GPU_OK)
	{
		/* a failed start leaves its lane free */
		free(l->distances);
		free(l->rows);
		l->distances = NULL;
		l->rows = NULL;
		return rc;
	}
	l->nslots = nslots;
	l->started = 1;
	device_free_at = fmax(device_free_at, now_ms()) + fake_kernel_ms();
	l->done_at = device_free_at;
	return HS_GPU_OK;
}

int
hs_gpu_search_finish(int lane, float *out_distances, int64_t *out_rows, float *kernel_ms,
					 char *errbuf, size_t errlen)
{
	Lane	   *l;

	if ((l = lane_of(lane, errbuf, errlen)) == NULL)
		return HS_GPU_EINVAL;
	if (!l->started)
	{
		snprintf(errbuf, errlen, "fake cuda: no search started on lane %d", lane);
		return HS_GPU_EINVAL;
	}
	while (now_ms() < l->done_at)
		;
	memcpy(out_distances, l->distances, sizeof(float) * l->nslots);
	memcpy(out_rows, l->rows, sizeof(int64_t) * l->nslots);
	free(l->distances);
	free(l->rows);
	l->distances = NULL;
	l->rows = NULL;
	l->started = 0;
	if (kernel_ms != NULL)
		*kernel_ms = (float) fake_kernel_ms();
	return HS_GPU_OK;
}

int
hs_gpu_launch_size(hs_gpu_matrix *const *parts, int nparts, int metric, int nqueries, int k)
{
	const char *max = getenv("HS_FAKE_LAUNCH_MAX");
	int			most = max ? atoi(max) : 0;

	(void) parts;
	(void) nparts;
	(void) metric;
	(void) k;
	return most > 0 && most < nqueries ? most : nqueries;
}

size_t
hs_gpu_last_variant(char *buf, size_t buflen)
{
	return (size_t) snprintf(buf, buflen, "fake (CPU reference)");
}
