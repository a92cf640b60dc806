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

struct Flight;

/*
 * A search's work put on the stream, its queries and answer in flight's
 * memory (device_context.h), with the device's mutex held; answered at
 * once (flight.empty) for no queries or no rows.  Its answer comes from
 * search_finish_locked, which waits for it.
 */
int			search_start_locked(hs_gpu_matrix *m, Flight &flight, int metric, const float *queries,
								int nq, int k, char *errbuf, size_t errlen);
int			search_finish_locked(hs_gpu_matrix *m, Flight &flight, float *out_d, int64_t *out_i,
								 float *kernel_ms, char *errbuf, size_t errlen);

/* every lane's search waited for and its flights released (hs_gpu_close) */
void		release_lanes(void);

/* hs_gpu_search with the device's mutex held: both halves, on the device's own flight */
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
