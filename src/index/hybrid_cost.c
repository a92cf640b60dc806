/*
 * hybrid_cost.c
 *	  Cost estimate of hybrid index scans.
 *
 * A scan does its work up front: one distance pass over the index's rows
 * (startup cost), then returns rows in distance order, cheaply each.  What
 * the pass costs depends on where it will run and on the state of the
 * index's copy, which the estimate looks up:
 *   - on the GPU (routing as a scan would decide): a kernel of a few ms,
 *     plus the upload of the rows the worker does not hold yet;
 *   - on the CPU over a loaded shared copy: rows x dimensions at the SIMD
 *     pass's speed on hybridsearch.cpu_threads threads;
 *   - a copy still to be loaded: the load (the index's bytes, read on
 *     threads) comes first;
 *   - no copy (it does not fit, or hybridsearch.cpu_cache is off): a pass
 *     over the index's pages.
 * The constants were measured on the 2-core development machine (AMD EPYC,
 * 100000 x 768, test/bench-shared-copy.sh and test/bench-planner.sh,
 * 2026-12-01) and on the H200 host, and are converted to the planner's
 * units at COST_PER_MS, calibrated so that with PostgreSQL's default cost
 * settings the btree-and-sort plan of a selective filter and the hybrid
 * scan cross where their run times cross (doc/tuning.md, "The planner").
 * A backend's first read of a loaded copy also maps its pages (about 17
 * ms for 300 MB); it is left out: the estimate would then hang on which
 * backend plans, and the crossover stays within 1.5 times of the better
 * plan without it (doc/benchmarks.md, "The planner").
 *
 * Without an ORDER BY on a distance there is nothing the index can do, so
 * such paths cost infinity and are never chosen for plain filters; nor
 * with two distances in the ORDER BY, whose ties the scan could not order.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"

#include "gpu/gpu_shared.h"
#include "hybridsearch.h"
#include "index/hybrid.h"
#include "store/store.h"
#include "threads.h"

/* planner cost units per millisecond of a scan's own work */
#define COST_PER_MS				100.0

/* the CPU pass: ns per vector element per thread (fp32; half reads less) */
#define PASS_NS_PER_ELEMENT		0.26
#define HALF_PASS_FACTOR		0.75
/* bytes per ms per thread: loading a copy, streaming the pages */
#define LOAD_BYTES_PER_MS		0.93e6
#define STREAM_BYTES_PER_MS		4.2e6
/* the GPU: one search, and uploading rows the worker lacks */
#define GPU_SEARCH_MS			2.0
#define GPU_UPLOAD_BYTES_PER_MS	1.9e6

#define ROWS_PER_THREAD_MIN		4096

static int
pass_threads(double rows)
{
	return work_threads((int64) rows, ROWS_PER_THREAD_MIN);
}

/* Milliseconds loading the copy from the index's bytes takes. */
static double
load_ms(double rows, double bytes)
{
	return bytes / (LOAD_BYTES_PER_MS * pass_threads(rows));
}

/* Milliseconds a CPU pass (and what must come before it) takes. */
static double
cpu_pass_ms(CopyCostState state, double rows, int dim, bool half, double bytes)
{
	int			threads = pass_threads(rows);
	double		pass = rows * dim * PASS_NS_PER_ELEMENT * 1e-6 / threads *
		(half ? HALF_PASS_FACTOR : 1.0);

	switch (state)
	{
		case COPY_COST_READY:
			return pass;
		case COPY_COST_LOAD:
			return pass + load_ms(rows, bytes);
		case COPY_COST_STREAM:
			return bytes / (STREAM_BYTES_PER_MS * threads);
	}
	return pass;
}

/* Milliseconds of a GPU search, with the load and upload it needs first. */
static double
gpu_search_ms(Relation index, CopyCostState state, double rows, double bytes)
{
	int64		resident_rows;
	int64		resident_bytes;
	double		ms = GPU_SEARCH_MS;

	if (state == COPY_COST_LOAD)
		ms += load_ms(rows, bytes);
	gpu_resident_usage(MyDatabaseId, index->rd_node, &resident_rows, &resident_bytes);
	if (resident_rows < rows)
		ms += bytes * (1.0 - resident_rows / rows) / GPU_UPLOAD_BYTES_PER_MS;
	return ms;
}

/* The distance pass's cost in planner units, from the index's state now. */
static Cost
pass_cost(Oid index_oid)
{
	Relation	index = index_open(index_oid, NoLock);
	HybridMetaPageData meta = hybrid_read_meta(index);
	HybridPrecision precision = hybrid_index_precision(index);
	double		rows = Max(meta.entries - meta.null_entries, 1);
	double		bytes = (double) meta.stream_end;
	CopyCostState state = hybrid_kind_is_dense(hybrid_index_kind(index)) ?
		store_cost_state(index, &meta, precision) : COPY_COST_STREAM;
	double		ms;

	if (state != COPY_COST_STREAM && gpu_would_route((int64) rows))
		ms = gpu_search_ms(index, state, rows, bytes);
	else
		ms = cpu_pass_ms(state, rows, Max(meta.dim, 1), precision == PRECISION_HALF, bytes);
	index_close(index, NoLock);
	return ms * COST_PER_MS;
}

void
hybrid_costestimate(PlannerInfo *root pg_attribute_unused(), IndexPath *path,
					double loop_count pg_attribute_unused(),
					Cost *startup_cost, Cost *total_cost, Selectivity *selectivity,
					double *correlation, double *pages)
{
	IndexOptInfo *index = path->indexinfo;
	double		entries = Max(index->tuples, 1.0);

	/* one ORDER BY distance: the scan cannot order ties by a second one */
	if (list_length(path->indexorderbys) != 1)
	{
		*startup_cost = get_float8_infinity();
		*total_cost = get_float8_infinity();
		*selectivity = 0.0;
		*correlation = 0.0;
		*pages = 0;
		return;
	}

	*startup_cost = pass_cost(index->indexoid);
	*total_cost = *startup_cost + entries * cpu_index_tuple_cost;
	*selectivity = 1.0;
	*correlation = 0.0;
	*pages = Max(index->pages, 1);
}
