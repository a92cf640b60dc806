/*
 * gpu_client.h
 *	  The backend side of the GPU path: routing, and the GPU candidate
 *	  source of search.h, which hands queries to the GPU worker and falls
 *	  back to the CPU on any failure.
 */
#ifndef HYBRIDSEARCH_GPU_CLIENT_H
#define HYBRIDSEARCH_GPU_CLIENT_H

#include "search/search.h"

extern bool gpu_route(Relation index, int64 rows);
extern GpuSource *gpu_source_begin(Search *search);
extern void gpu_source_pull(Search *search);
extern bool gpu_source_exhausted(const GpuSource *source);

#endif							/* HYBRIDSEARCH_GPU_CLIENT_H */
