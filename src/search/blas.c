/*
 * blas.c
 *	  Loading OpenBLAS's cblas_sgemm (see blas.h for why it is not linked).
 */
#include "postgres.h"

#include <dlfcn.h>
#include <stdlib.h>

#include "search/blas.h"

/* cblas.h's enumerations, as the ABI fixes them */
#define CBLAS_ROW_MAJOR		101
#define CBLAS_NO_TRANS		111
#define CBLAS_TRANS			112

typedef void (*CblasSgemm) (int order, int trans_a, int trans_b, int m, int n, int k,
							float alpha, const float *a, int lda, const float *b, int ldb,
							float beta, float *c, int ldc);

static CblasSgemm cblas_sgemm_fn = NULL;
static bool load_tried = false;
static char load_error[256];

static void
sgemm_queries_by_rows(int nq, int rows, int dim, const float *queries,
					  const float *rows_values, int ldr, float *dots)
{
	cblas_sgemm_fn(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, nq, rows, dim,
				   1.0f, queries, dim, rows_values, ldr, 0.0f, dots, rows);
}

static void
load_openblas(void)
{
	void	   *handle;
	void		(*set_threads) (int);

	load_tried = true;

	/* read by the library's constructor: no thread pool of its own */
	setenv("OPENBLAS_NUM_THREADS", "1", 1);
	handle = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL)
	{
		snprintf(load_error, sizeof(load_error), "%s", dlerror());
		return;
	}
	cblas_sgemm_fn = (CblasSgemm) dlsym(handle, "cblas_sgemm");
	if (cblas_sgemm_fn == NULL)
	{
		snprintf(load_error, sizeof(load_error), "libopenblas.so.0 has no cblas_sgemm");
		return;
	}
	/* already loaded by someone else, with its pool: one thread still */
	set_threads = (void (*) (int)) dlsym(handle, "openblas_set_num_threads");
	if (set_threads != NULL)
		set_threads(1);
}

/*
 * The sgemm, or NULL when OpenBLAS cannot be loaded (logged once per
 * backend): batches then run one query at a time.
 */
SgemmQueriesByRows
blas_sgemm(void)
{
	if (!load_tried)
	{
		load_openblas();
		if (cblas_sgemm_fn == NULL)
			ereport(LOG,
					(errmsg("hybridsearch: OpenBLAS could not be loaded, batched CPU searches run one query at a time"),
					 errdetail_internal("%s", load_error),
					 errhint("Install libopenblas0.")));
	}
	return cblas_sgemm_fn ? sgemm_queries_by_rows : NULL;
}
