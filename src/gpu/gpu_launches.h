/*
 * gpu_launches.h
 *	  The GPU worker's launches in flight: searches started in the CUDA
 *	  host on one of its lanes and not yet answered (gpu_launches.c).
 */
#ifndef HYBRIDSEARCH_GPU_LAUNCHES_H
#define HYBRIDSEARCH_GPU_LAUNCHES_H

#include "portability/instr_time.h"

#include "gpu/gpu_resident.h"
#include "gpu/gpu_shared.h"

extern bool launch_search(ResidentMatrix *entry, GpuSlot **requests, int count,
						  instr_time taken);
extern void launches_finish_all(void);
extern void launches_pace(void);
extern bool launches_in_flight(void);

#endif							/* HYBRIDSEARCH_GPU_LAUNCHES_H */
