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
extern int	cuda_host_search_start(const HostMatrix *parts, int nparts, int metric,
								   const float *queries, int nqueries, int dim, int k,
								   char *message);
/*
 * On success, the answers of the first *served queries (the CUDA module's
 * launch size: the others are left for a later launch), and message names
 * the kernels that ran (hs_gpu_last_variant).
 */
extern int	cuda_host_search_finish(float *distances, int64 *rows, int *served,
									float *kernel_ms, char *message);
extern int	cuda_host_fault(int fault, char *message);

#endif							/* HYBRIDSEARCH_CUDA_HOST_H */
