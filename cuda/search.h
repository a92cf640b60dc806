/*
 * search.h
 *	  One search on one matrix: the query upload, the plan, its launches
 *	  (launch.h) run call by call or replayed as a CUDA graph, and the
 *	  answer; and the autotuner's timed runs, which run a plan the same way.
 */
#ifndef HS_SEARCH_H
#define HS_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "hs_gpu.h"
#include "plan.h"

/* hs_gpu_search with the device's mutex held */
int			search_locked(hs_gpu_matrix *m, int metric, const float *queries, int nq, int k,
						  float *out_d, int64_t *out_i, float *kernel_ms, char *errbuf, size_t errlen);

/*
 * One autotune run of plan on the queries already on the device, run as a
 * search settled on that plan would run (a GEMM plan over several chunks
 * as its CUDA graph, captured on the first run), and *ms the time of its
 * kernels; 0, -1 when the plan does not fit, else an error.
 */
int			tuning_run(hs_gpu_matrix *m, const Plan &plan, int metric, int nq, int k, float *ms,
					   char *errbuf, size_t errlen);

/* grow the device query buffers (fp32, fp16 and both norms) to nq_pad
 * queries of m's width */
int			reserve_query_buffers(hs_gpu_matrix *m, int nq_pad, char *errbuf, size_t errlen);

#endif							/* HS_SEARCH_H */
