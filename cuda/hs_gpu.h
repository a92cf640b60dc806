/*
 * hs_gpu.h
 *	  Plain-C interface of the hybridsearch CUDA module
 *	  (cuda/libhybridsearch_cuda.so).
 *
 * Only the GPU worker loads the module, with dlopen(); nothing here names a
 * CUDA type, so the worker compiles without the CUDA toolkit.  Every call
 * returns 0 (or a valid pointer) on success; on failure it returns one of
 * the HS_GPU_E* codes (or NULL) and writes a NUL-terminated message into
 * errbuf (errbuf may be NULL).  Nothing in the module aborts or exits.
 * HS_GPU_ENOMEM means "device memory ran out": the caller should fall back
 * to the CPU path.  After HS_GPU_ECUDA the context may be unusable
 * (a sticky CUDA error): close it and fall back.
 *
 * Several devices may be open at once; each matrix lives on one of them.
 * The calls on one device are serialised by that device's mutex; calls on
 * different devices run at once.  They may come from any thread.
 *
 * Distances (see doc/gpu-kernels.md): HS_GPU_L2 returns the Euclidean
 * distance (not squared; ranked by its square); HS_GPU_NEG_IP returns
 * -<a,b>; HS_GPU_COSINE returns 1 - <a,b>/(|a||b|) with the similarity
 * clamped to [-1,1] (the norms through rsqrtf, a few ulp), and NaN when
 * either vector has norm zero (such rows sort after every other row);
 * HS_GPU_L1 returns sum |a_i - b_i|.  They are computed in fp32 (from fp16
 * copies of the rows when the matrix is half precision; fp16 queries too on
 * the GEMM path), so they are candidates: re-score them exactly with a
 * margin.
 */
#ifndef HS_GPU_H
#define HS_GPU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HS_GPU_API_VERSION	3

/* return codes */
#define HS_GPU_OK			0
#define HS_GPU_ECUDA		1	/* a CUDA or cuBLAS call failed */
#define HS_GPU_ENOMEM		2	/* device (or pinned host) allocation failed */
#define HS_GPU_EINVAL		3	/* bad argument */
#define HS_GPU_ESTATE		4	/* hs_gpu_open() not called, or wrong device */

/* metrics (the numbers are part of the interface) */
#define HS_GPU_L2			1
#define HS_GPU_NEG_IP		2
#define HS_GPU_COSINE		3
#define HS_GPU_L1			4

#define HS_GPU_MAX_DIM		16000
#define HS_GPU_MAX_K		4096
#define HS_GPU_MAX_ROWS		((int64_t) 2147483647)
#define HS_GPU_MAX_DEVICES	64
#define HS_GPU_MAX_PARTS	64
#define HS_GPU_LANES		2	/* searches started and not finished, at most */

typedef struct hs_gpu_matrix hs_gpu_matrix;

/* The number of CUDA devices this process can see (CUDA_VISIBLE_DEVICES). */
int			hs_gpu_device_count(int *count, char *errbuf, size_t errlen);

/* Open a device (0..count-1): its stream, cuBLAS handle and scratch
 * buffers.  Idempotent; any number of devices may be open. */
int			hs_gpu_open(int device, char *errbuf, size_t errlen);

/* Release what hs_gpu_open() made on every device (free the matrices first). */
void		hs_gpu_close(void);

/* An empty matrix of dim (1..16000) columns on an open device;
 * half_precision != 0 stores fp16 copies (values must lie within +-65504).
 * NULL on failure. */
hs_gpu_matrix *hs_gpu_matrix_create(int device, int dim, int half_precision,
									char *errbuf, size_t errlen);

/* Append nrows row-major fp32 rows (nrows * dim floats).  Row numbers are
 * 0-based in append order.  Storage grows geometrically (old contents are
 * copied on the device); the cost is proportional to the new rows.  On
 * failure the matrix keeps its previous rows. */
int			hs_gpu_matrix_append(hs_gpu_matrix *m, const float *rows, int64_t nrows,
								 char *errbuf, size_t errlen);

/* Room for nrows rows in all, allocated now (exactly, where append grows
 * geometrically), so that appends up to that many neither grow nor copy
 * the matrix: for an upload whose size is known.  Fewer rows than the
 * matrix has room for is a no-op.  On failure the matrix is unchanged. */
int			hs_gpu_matrix_reserve(hs_gpu_matrix *m, int64_t nrows, char *errbuf, size_t errlen);

int64_t		hs_gpu_matrix_rows(const hs_gpu_matrix *m);

/* Device bytes held (allocated capacity, vectors plus norms). */
size_t		hs_gpu_matrix_bytes(const hs_gpu_matrix *m);

void		hs_gpu_matrix_free(hs_gpu_matrix *m);

/*
 * For each of nqueries row-major fp32 queries (nqueries * dim floats), the k
 * (1..HS_GPU_MAX_K) smallest distances in ascending order and their row
 * numbers: out_distances[q*k + i], out_rows[q*k + i].  Slots beyond the
 * number of rows get row -1 and distance +inf.  Rows are ordered by the
 * kernel's own fp32 distance, then by row number; NaN distances come last.
 * The kernel's choice among rows within rounding of each other is
 * arbitrary: ask for k plus a margin.  *kernel_ms (may be NULL)
 * receives the device time of the search kernels (CUDA events), excluding
 * the copies of queries and results.
 */
int			hs_gpu_search(hs_gpu_matrix *m, int metric, const float *queries,
						  int nqueries, int k, float *out_distances,
						  int64_t *out_rows, float *kernel_ms,
						  char *errbuf, size_t errlen);

/*
 * hs_gpu_search over a matrix split in nparts (1..HS_GPU_MAX_PARTS) stripes:
 * row r of the whole is row r / nparts of parts[r % nparts], so appending
 * row r to parts[r % nparts] keeps every part within one row of the others.
 * The parts are searched at once, one host thread each (parts on different
 * devices run in parallel; parts on one device take turns), and their lists
 * merged; results and order are those of hs_gpu_search over the whole, with
 * row numbers of the whole.  *kernel_ms is the longest part's kernel time.
 */
int			hs_gpu_search_parts(hs_gpu_matrix *const *parts, int nparts, int metric,
								const float *queries, int nqueries, int k,
								float *out_distances, int64_t *out_rows, float *kernel_ms,
								char *errbuf, size_t errlen);

/*
 * hs_gpu_search_parts in two halves, so that the next search is on the
 * devices' streams before the last one ends and the GPU does not wait for
 * the caller between them.  hs_gpu_search_start copies the queries,
 * enqueues the search on lane (0..HS_GPU_LANES-1), which must be free, and
 * returns (the first searches of a kind also tune it, and wait for that);
 * hs_gpu_search_finish waits for the lane's search, writes its answers as
 * hs_gpu_search_parts would and frees the lane.  The lanes' searches run
 * in the order started.  A failed start leaves its lane free; a failed
 * finish frees it too.  Free no matrix a started search reads before its
 * finish.  One thread at a time per lane; hs_gpu_search and
 * hs_gpu_search_parts use no lane, and may run beside them.
 */
int			hs_gpu_search_start(int lane, hs_gpu_matrix *const *parts, int nparts, int metric,
								const float *queries, int nqueries, int k,
								char *errbuf, size_t errlen);
int			hs_gpu_search_finish(int lane, float *out_distances, int64_t *out_rows,
								 float *kernel_ms, char *errbuf, size_t errlen);

/*
 * How many of nqueries waiting queries of one kind (the same parts, metric
 * and k) the next hs_gpu_search_parts should take: nqueries, or fewer when a
 * smaller batch serves at least 5% more queries a millisecond by the
 * autotuner's times (a batch just past a query tile may run a slower plan);
 * the rest wait for a later launch.  nqueries while the whole batch's kind
 * is untuned; while the kind of the power of two below it is, a batch at
 * most a quarter past that power launches that many, which tunes it.
 */
int			hs_gpu_launch_size(hs_gpu_matrix *const *parts, int nparts, int metric,
							   int nqueries, int k);

/* ---- diagnostics (test/gpu/kernel_check uses them; the worker need not) ---- */

/* The autotune cache and the variant each entry chose, one line each;
 * returns the length written (truncated to buflen - 1). */
size_t		hs_gpu_tune_report(char *buf, size_t buflen);

/*
 * How many of a kind of search's tuning runs one search may add to itself
 * (default 1, so that tuning never holds the device for long); 0 or less:
 * all of them in the kind's first search, as kernel_check's groups assume.
 * Call before searching.
 */
void		hs_gpu_set_tune_runs(int runs_per_search);

/*
 * Whether a search of the GEMM path over several chunks, seen before, is
 * replayed as one CUDA graph (default 1; doc/gpu-kernels.md, "Graphs, and
 * no copies after the kernels"); 0 runs every search call by call, for
 * comparison.  Call before searching.
 */
void		hs_gpu_set_graphs(int on);

/*
 * Only plans whose names (as hs_gpu_last_variant reports them) contain
 * part are tuned or chosen, where a search has any such plan: "tensor",
 * "fused", "gemm", " s3 ".  NULL or "" lifts it.  For tests that must
 * run one path at every size; the worker never calls it.  Call before
 * searching.  The environment variable HS_GPU_PLANS, read when the module
 * is loaded, sets it too: a server started with it runs one path, for
 * comparisons through SQL.
 */
void		hs_gpu_set_plan_filter(const char *part);

/* The variant the last hs_gpu_search() ran, e.g. "fused q8 r4 l32", with
 * " [graph]" when a graph ran it. */
size_t		hs_gpu_last_variant(char *buf, size_t buflen);

/*
 * Floors for m, medians over reps: read_ms, a kernel reading every byte of
 * the stored vectors once; copy_ms, cudaMemcpy device-to-device of the same
 * bytes (-1 when no room for the copy); gemm_ms, the cuBLAS GEMM alone that
 * the GEMM path would run for nqueries queries (-1 if nqueries < 1).
 */
int			hs_gpu_matrix_bench(hs_gpu_matrix *m, int nqueries, int reps,
								float *read_ms, float *copy_ms, float *gemm_ms,
								char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif							/* HS_GPU_H */
