/*
 * cuda_host.h
 *	  The GPU worker's side of its CUDA host process (cuda_host_child.c):
 *	  starting and stopping it, and one function per CUDA call, each run
 *	  in the host under a deadline.
 *
 * Every call returns HS_GPU_OK or an HS_GPU_E* code with a message, or
 * CUDA_HOST_DIED when the host died during the call, overran its deadline
 * (it is then killed) or was not running.  After a death every matrix the
 * host held is gone with it: cuda_host_take_death() tells the worker once,
 * so it forgets them, and cuda_host_restart_due() paces the restarts.
 */
#ifndef HYBRIDSEARCH_CUDA_HOST_H
#define HYBRIDSEARCH_CUDA_HOST_H

#include "gpu/gpu_shared.h"

#define CUDA_HOST_DIED 100

/* A matrix in the host's address space; 0 for none. */
typedef uint64 HostMatrix;

extern bool cuda_host_start(char *message);
extern void cuda_host_stop(void);
extern bool cuda_host_running(void);
extern bool cuda_host_take_death(char *message);
extern long cuda_host_restart_due(void);

extern int	cuda_host_load(char *message);
extern int	cuda_host_device_count(int *count, char *message);
extern int	cuda_host_open(int device, char *message);
extern void cuda_host_close(void);
extern HostMatrix cuda_host_matrix_create(int device, int dim, bool half, char *message);
extern void cuda_host_matrix_free(HostMatrix matrix);
extern float *cuda_host_staging(int64 *capacity_floats);
extern int	cuda_host_matrix_reserve(HostMatrix matrix, int64 nrows, Size *bytes, char *message);
extern int	cuda_host_matrix_append_staged(HostMatrix matrix, int64 nrows, int64 *rows,
										   Size *bytes, char *message);

/*
 * A search on one of HS_GPU_LANES lanes, in two calls, so that the next
 * batch is on the GPU before the last one's answer is taken: the start
 * returns once the search runs, with *served, how many of its queries it
 * searches (the CUDA module's launch size: the rest wait for a later
 * launch); the finish gives their answers, waiting for them, and frees the
 * lane.  With finish, the start waits for the answer too, in one round
 * trip.  Any other call first waits for the lanes' searches (their
 * answers are kept for the finish).  On success the finish's message
 * names the kernels that ran (hs_gpu_last_variant).
 */
extern int	cuda_host_search_start(int lane, const HostMatrix *parts, int nparts, int metric,
								   const float *queries, int nqueries, int dim, int k,
								   bool finish, int *served, char *message);
extern int	cuda_host_search_finish(int lane, float *distances, int64 *rows, float *kernel_ms,
									char *message);
extern int	cuda_host_fault(int fault, char *message);

#endif							/* HYBRIDSEARCH_CUDA_HOST_H */
