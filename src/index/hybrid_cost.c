/*
 * hybrid_cost.c
 *	  Cost estimate of hybrid index scans.
 *
 * A scan computes every distance up front (startup cost: one distance per
 * entry) and then returns rows one by one.  It reads a dense copy kept in
 * memory in step with the index, not the index's pages, so the pages weigh
 * only lightly: they are read when the server first loads its copy.
 * Charging them in full made the planner prefer a sequential scan whenever
 * the vectors live in TOAST (768 dimensions and up), where the heap itself
 * is small but each row's vector costs a TOAST fetch the planner does not
 * see.
 * Without an ORDER BY on a distance there is nothing the index can do, so
 * such paths cost infinity and are never chosen for plain filters; nor
 * with two distances in the ORDER BY, whose ties the scan could not order.
 */
#include "postgres.h"

#include <math.h>

#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/selfuncs.h"

#include "index/hybrid.h"

/*
 * A distance costs less than a generic operator call: vectorised, threaded
 * and without function-call overhead per row.
 */
#define DISTANCE_COST_FACTOR 0.5

/* share of the index's pages a scan reads, amortised over scans */
#define PAGE_COST_FACTOR 0.01

void
hybrid_costestimate(PlannerInfo *root pg_attribute_unused(), IndexPath *path,
					double loop_count pg_attribute_unused(),
					Cost *startup_cost, Cost *total_cost, Selectivity *selectivity,
					double *correlation, double *pages)
{
	IndexOptInfo *index = path->indexinfo;
	double		entries = Max(index->tuples, 1.0);
	double		index_pages = Max(index->pages, 1);

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

	*startup_cost = index_pages * seq_page_cost * PAGE_COST_FACTOR +
		entries * cpu_operator_cost * DISTANCE_COST_FACTOR;
	*total_cost = *startup_cost + entries * cpu_index_tuple_cost;
	*selectivity = 1.0;
	*correlation = 0.0;
	*pages = index_pages;
}
