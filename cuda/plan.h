/*
 * plan.h
 *	  Which kernels a search runs (a Plan), and the autotune cache that
 *	  remembers the fastest Plan per kind of search.
 */
#ifndef HS_PLAN_H
#define HS_PLAN_H

#include <stddef.h>
#include <string>

#include "hs_gpu.h"
#include "impl/fused.cuh"

struct Plan
{
	int			gemm;			/* 1: GEMM path */
	const FusedVariant *fv;		/* fused path */
};

/*
 * What a tuned choice is keyed on: device, dim, ceil(log2 batch), metric,
 * precision, a k bucket (k sets the lists' shared memory) and a rows bucket
 * of powers of 4 (the row count sets how many blocks there are).
 */
struct TuneKey
{
	int			device, dim, bucket, metric, half, kbucket, rbucket;

	bool operator<(const TuneKey &o) const
	{
		if (device != o.device) return device < o.device;
		if (rbucket != o.rbucket) return rbucket < o.rbucket;
		if (dim != o.dim) return dim < o.dim;
		if (bucket != o.bucket) return bucket < o.bucket;
		if (metric != o.metric) return metric < o.metric;
		if (half != o.half) return half < o.half;
		return kbucket < o.kbucket;
	}
};

struct TuneEntry
{
	Plan		plan;
	std::string report;			/* every candidate's time, for hs_gpu_tune_report */
};

/* the plan for this search: cached, tuned now, or the heuristic's */
int			choose_plan(hs_gpu_matrix *m, int metric, int nq, int k, Plan *out,
						char *errbuf, size_t errlen);

/* the fused variant with the smallest query tile, for when the chosen one
 * does not fit in shared memory (large k); fv NULL if there is none */
Plan		smallest_tile_plan(hs_gpu_matrix *m, int metric);

/* e.g. "fused q8 r4 l32 (tile 64 rows)" or "gemm+select" */
void		plan_name(const Plan &p, char *buf, size_t len);

#endif							/* HS_PLAN_H */
