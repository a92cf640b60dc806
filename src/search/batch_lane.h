/*
 * batch_lane.h
 *	  Concurrent searches of one copy share one batched pass (DESIGN.md,
 *	  decision 9): a server-wide "lane" per copy, metric and row count.
 *
 * A search whose lane is idle runs at once (a lone query never waits for
 * company), alone with the SIMD pass.  Searches that arrive while a pass
 * runs queue on the lane; when it ends, the first of them leads the next
 * pass for all of them with sgemm (batch_pass.h), writes each its
 * candidates, and wakes them.  As with group commit, the queue grows with
 * the load: the busier the index, the more each pass serves.
 */
#ifndef HYBRIDSEARCH_BATCH_LANE_H
#define HYBRIDSEARCH_BATCH_LANE_H

#include "search/source.h"

extern bool hybridsearch_cpu_batching;

extern void batch_lane_request_shmem(void);
extern void batch_lane_init_shmem(void);
extern bool batch_lane_usable(const Search *search);
extern void batch_lane_first_pull(Search *search);

#endif							/* HYBRIDSEARCH_BATCH_LANE_H */
