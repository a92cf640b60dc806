/*
 * gpu_worker.h
 *	  What the GPU worker's own files share (gpu_worker.c, gpu_append.c):
 *	  the devices it has open, and its ways of answering a request.  Only
 *	  the worker process uses these.
 */
#ifndef HYBRIDSEARCH_GPU_WORKER_H
#define HYBRIDSEARCH_GPU_WORKER_H

#include "gpu/gpu_shared.h"

extern int	worker_device_count;	/* the devices open */
extern int	worker_devices[GPU_MAX_DEVICES];
extern int	worker_parts;		/* parts of every new matrix */

extern void worker_fail(GpuSlot *request, const char *message);
extern void worker_reset_devices(const char *reason);
extern bool worker_serve_requests(bool between_chunks);

/* gpu_append.c */
extern void worker_handle_append(GpuSlot *request);

#endif							/* HYBRIDSEARCH_GPU_WORKER_H */
