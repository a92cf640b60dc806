/*
 * plan.h
 *	  Which kernels a search runs (a Plan), and the autotune cache that
 *	  remembers the fastest Plan per kind of search.
 */
#ifndef HS_PLAN_H
#define HS_PLAN_H

#include <stddef.h>
#include <string>
#include <vector>

#include "hs_gpu.h"
#include "impl/fused.cuh"
#include "impl/tensor.cuh"

struct Plan
{
	int			gemm;			/* 1: GEMM path */
	const FusedVariant *fv;		/* fused path */
	const TensorVariant *tv;	/* tensor path (neither of the others) */
};

/*
 * What a tuned choice is keyed on: device, dim, ceil(log2 batch), metric,
 * precision, a k bucket (k sets the lists' shared memory and the selection's
 * share of the tensor kernel: at 32 queries on the H200 it took 13% longer
 * at k 20 than at k 10, where GEMM's time hardly moved, so 10 and 20 are
 * tuned apart) and a rows bucket of powers of 4 (the row count sets how
 * many blocks there are).
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

/*
 * A kind of search, tuned or being tuned.  While tuning, each candidate is
 * run TUNE_RUNS times (a warm-up, then the timed runs) at one batch size
 * nq and k, a few runs per search (set_tune_runs_per_search), so that
 * tuning never holds the device, and the other indexes' searches waiting
 * for it, for more than that; until it is done, searches take the fastest
 * candidate timed so far.
 */
struct TuneEntry
{
	bool		tuned;
	Plan		plan;			/* the fastest, once tuned */
	float		plan_ms;		/* its median time at nq, k; -1 unknown */
	std::string report;			/* every candidate's time, for hs_gpu_tune_report */
	std::vector<Plan> candidates;	/* while tuning: GEMM first where it applies */
	std::vector<std::vector<float> > timed;	/* per candidate: its timed runs, ms */
	std::vector<float> ms;		/* per candidate: the median of timed; -1 infeasible */
	std::vector<int> runs;		/* per candidate: runs so far, the warm-up included */
	size_t		next;			/* the candidate run next */
	int			nq,
				k;				/* the batch and k every candidate runs at */
};

/* the plan for this search: cached, tuned (a step of it now), or the heuristic's */
int			choose_plan(hs_gpu_matrix *m, int metric, int nq, int k, Plan *out,
						char *errbuf, size_t errlen);

/*
 * true, with *out, when the plan for this search is known without running
 * anything: its kind is tuned, or the matrix is small enough for the
 * heuristic.  choose_plan would return the same plan.
 */
bool		settled_plan(hs_gpu_matrix *m, int metric, int nq, int k, Plan *out);

/*
 * How many of nq waiting queries of one kind to search in the next launch:
 * nq, or a full tile of a smaller batch bucket when that serves more
 * queries a millisecond by the tuned times (plan.cu).
 */
int			launch_size(hs_gpu_matrix *m, int metric, int nq, int k);

/* timing runs a search may add while its kind is tuned; <= 0: all at once */
void		set_tune_runs_per_search(int runs);

/* the fused variant with the smallest query tile, for when the chosen one
 * does not fit in shared memory (large k); fv NULL if there is none */
Plan		smallest_tile_plan(hs_gpu_matrix *m, int metric);

/* e.g. "fused q8 r4 l32 (tile 64 rows)", "tensor q32 w8 m1 s3 e64 (tile 128 rows)"
 * or "gemm+select" */
void		plan_name(const Plan &p, char *buf, size_t len);

/*
 * Plans whose names contain part are the only candidates and the
 * untuned choice, where the search has any (the others where it has none);
 * NULL or "" for all.  For kernel_check, to test one path at every size.
 */
void		set_plan_filter(const char *part);

#endif							/* HS_PLAN_H */
