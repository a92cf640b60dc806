/*
 * scan_distance.c
 *	  hybridsearch_scan_distance(): the distance a hybrid index scan
 *	  computed for the row it just returned, so that the projection above it
 *	  does not compute it again.
 *
 * "SELECT id FROM items ORDER BY embedding <=> $1 LIMIT 10" keeps the
 * distance as a hidden output column of the index scan, and the executor
 * evaluates it for every row the scan returns: with the default (external)
 * storage, a fetch of the row's vector from the TOAST table (an index
 * lookup and a 3 kB copy at 768 dimensions) and the distance over it,
 * although the scan has just computed that very value (hybrid_scan.c
 * returns the operator's own bits).  In a GPU search at LIMIT 10 those ten
 * evaluations were the largest part of the backend's own work (perf, on
 * the 2-core development machine: 29% of its CPU time).
 *
 * Each scan remembers its last row: the index, its query's bytes, the
 * row's heap TID and distance.  The function answers when all three match
 * the row being projected and returns NULL otherwise, and COALESCE then
 * computes the distance as before.  Between a scan returning a row and
 * projecting it, only the scan's filter runs; when that filter runs
 * another hybrid scan (a subquery), the last row may be the other scan's,
 * and it is used only for the same index, row and query, for which it is
 * the same value.  A heap TID names the same tuple while any snapshot that
 * saw it lives, and the scan's does until the scan ends, so what a scan
 * remembered is forgotten when it restarts or ends, and at every
 * transaction event (an error ends a scan without telling it).
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"

#include "index/scan_distance.h"
#include "type/distance_arg.h"

/* the row the last hybrid scan returned, in that scan's memory */
static const ScanDistanceRow *last_row = NULL;

static void
forget_at_xact_event(XactEvent event pg_attribute_unused(), void *arg pg_attribute_unused())
{
	last_row = NULL;
}

static void
forget_at_subxact_event(SubXactEvent event pg_attribute_unused(),
						SubTransactionId sub pg_attribute_unused(),
						SubTransactionId parent pg_attribute_unused(),
						void *arg pg_attribute_unused())
{
	last_row = NULL;
}

void
scan_distance_init(void)
{
	RegisterXactCallback(forget_at_xact_event, NULL);
	RegisterSubXactCallback(forget_at_subxact_event, NULL);
}

/* A scan returned ROW (filled in by the scan, which keeps it). */
void
scan_distance_returned(ScanDistanceRow *row)
{
	last_row = row;
}

/* The scan that owns ROW restarts or ends. */
void
scan_distance_forget(const ScanDistanceRow *row)
{
	if (last_row == row)
		last_row = NULL;
}

PG_FUNCTION_INFO_V1(hybridsearch_scan_distance);

/*
 * hybridsearch_scan_distance(query, index, row): the distance the last
 * hybrid scan returned, when it was a scan of INDEX for QUERY and returned
 * the row at heap TID ROW; else NULL.  SQL declares it once for each
 * query type of the hybrid operator classes, all of them varlenas.
 */
Datum
hybridsearch_scan_distance(PG_FUNCTION_ARGS)
{
	const ScanDistanceRow *row = last_row;
	Oid			index_oid = PG_GETARG_OID(1);
	ItemPointer tid = (ItemPointer) PG_GETARG_POINTER(2);
	struct varlena *query;

	if (row == NULL || row->index_oid != index_oid ||
		ItemPointerCompare(unconstify(ItemPointerData *, &row->tid), tid) != 0)
		PG_RETURN_NULL();
	/* the query is most often the same TOAST pointer on every row */
	query = distance_arg(fcinfo, 0);
	if (VARSIZE(query) != VARSIZE(row->query) ||
		memcmp(query, row->query, VARSIZE(query)) != 0)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(row->distance);
}
