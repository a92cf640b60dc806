/*
 * cuda_host_internal.h
 *	  What the worker's side of the CUDA host shares between its files:
 *	  cuda_host.c (the process and its calls) and cuda_host_search.c (the
 *	  searches on its lanes).
 */
#ifndef HYBRIDSEARCH_CUDA_HOST_INTERNAL_H
#define HYBRIDSEARCH_CUDA_HOST_INTERNAL_H

#include "gpu/cuda_host_channel.h"

/* the channel, mapped before the first host started */
extern HostChannel *host_channel(void);

/*
 * A new call of op in the channel (zeroed; a call other than a search's
 * first waits for the lanes), and running it: HS_GPU_* or CUDA_HOST_DIED,
 * message saying why on failure.
 */
extern HostCall *host_begin_call(HostOp op);
extern int	host_call(int timeout_ms, char *message);

/* the lanes' searches answered, their answers kept for their finish */
extern void host_lanes_finish(void);

/* the lanes' searches not answered yet are lost with the host: why */
extern void host_lanes_lost(const char *why);

#endif							/* HYBRIDSEARCH_CUDA_HOST_INTERNAL_H */
