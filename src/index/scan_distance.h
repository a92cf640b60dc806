/*
 * scan_distance.h
 *	  The ORDER BY distance of the row a hybrid index scan just returned,
 *	  handed to the executor's projection instead of computed again.
 *
 * The planner side (scan_distance_plan.c) rewrites a hybrid index scan's
 * output column "column <op> query" into
 *
 *	   COALESCE(hybridsearch_scan_distance(query, index, ctid), column <op> query)
 *
 * and the scan side (scan_distance.c) remembers what the function checks:
 * the index, the query's bytes, the row's heap TID and its distance.
 */
#ifndef HYBRIDSEARCH_SCAN_DISTANCE_H
#define HYBRIDSEARCH_SCAN_DISTANCE_H

#include "storage/itemptr.h"

/* What one scan remembers of the row it returned last; it owns the memory. */
typedef struct ScanDistanceRow
{
	Oid			index_oid;
	struct varlena *query;		/* a detoasted copy; lives until the scan restarts */
	ItemPointerData tid;
	double		distance;
} ScanDistanceRow;

/* scan_distance.c: the scan's side */
extern void scan_distance_init(void);
extern void scan_distance_returned(ScanDistanceRow *row);
extern void scan_distance_forget(const ScanDistanceRow *row);

/* scan_distance_plan.c: the planner's side */
extern void scan_distance_plan_init(void);

#endif							/* HYBRIDSEARCH_SCAN_DISTANCE_H */
