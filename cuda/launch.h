/*
 * launch.h
 *	  A Plan sized for one matrix, batch and k (a Launch), and its kernels
 *	  enqueued on the device's streams.
 */
#ifndef HS_LAUNCH_H
#define HS_LAUNCH_H

#include <stddef.h>

#include "hs_gpu.h"
#include "plan.h"

/* A Plan sized for one matrix, batch and k: every launch's shape. */
struct Launch
{
	Plan		plan;
	int			nq, k, metric;
	/* fused and tensor paths */
	int			qstaged;		/* queries staged in shared memory */
	int			fused_chunks;	/* row chunks: the grid's y */
	long long	rows_per_block;
	size_t		fused_smem;
	/* GEMM path */
	long long	gemm_chunk_rows;
	int			dots_ld;		/* leading dimension of the dot products */
	int			gemm_chunks;
	int			seg_len;		/* rows a select warp takes */
	int			segs_per_chunk;
	int			select_warps;	/* warps a select block */
	int			running;		/* list 0 of each query is a running top-k */
	int			sample_bound;	/* the first chunk's sampled bound (impl/gemm.cuh) */
	size_t		select_smem;
	/* merge passes */
	int			lists_per_query;	/* after the selection */
	int			merge_warps;	/* warps a merge block */
	size_t		merge_smem;
};

/* sizes, buffers and feasibility; 0 ok, -1 infeasible, else an error */
int			prepare(hs_gpu_matrix *m, const Plan &plan, int metric, int nq, int k, Launch &launch,
					char *errbuf, size_t errlen);

/* enqueue the whole search on the stream; results in ctx.flight's host_out_dist / host_out_rows */
int			execute(hs_gpu_matrix *m, const Launch &launch, char *errbuf, size_t errlen);

/* whether the GEMM path would take m's rows in several chunks for a batch
 * of nq (and so replay as a CUDA graph once its plan is settled) */
bool		gemm_over_chunks(const hs_gpu_matrix *m, int nq);

#endif							/* HS_LAUNCH_H */
