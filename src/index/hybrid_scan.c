/*
 * hybrid_scan.c
 *	  Index scans of the hybrid access method: rows in exact distance
 *	  order, NULL vectors last, as long as the executor asks.
 *
 * The scan asks search (search/search.h) for the next (TID, distance) and
 * knows nothing else: copies, devices and fallbacks live behind it.  The
 * distances returned are the operator's own values, so the executor needs
 * no recheck of the ORDER BY, and its projection may take the distance
 * from the scan instead of computing it again (index/scan_distance.h).
 */
#include "postgres.h"

#include "access/relscan.h"
#include "pgstat.h"
#include "utils/memutils.h"

#include "index/hybrid.h"
#include "index/scan_distance.h"
#include "search/search.h"

typedef struct HybridScanOpaqueData
{
	MemoryContext context;		/* everything of the current rescan */
	Search	   *search;			/* NULL until the first row is asked for */
	ScanDistanceRow last_row;	/* the row returned last, for the projection */
} HybridScanOpaqueData;

typedef HybridScanOpaqueData *HybridScanOpaque;

IndexScanDesc
hybrid_beginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HybridScanOpaque so = palloc0(sizeof(HybridScanOpaqueData));

	so->context = AllocSetContextCreate(CurrentMemoryContext, "hybrid scan",
										ALLOCSET_DEFAULT_SIZES);
	so->last_row.index_oid = RelationGetRelid(index);
	scan->opaque = so;
	scan->xs_orderbyvals = palloc0(sizeof(Datum) * Max(norderbys, 1));
	scan->xs_orderbynulls = palloc(sizeof(bool) * Max(norderbys, 1));
	return scan;
}

/* End the current search (counting it) and free what it held. */
static void
end_search(HybridScanOpaque so)
{
	scan_distance_forget(&so->last_row);
	so->last_row.query = NULL;
	if (so->search)
		search_end(so->search);
	so->search = NULL;
	MemoryContextReset(so->context);
}

void
hybrid_rescan(IndexScanDesc scan, ScanKey keys, int nkeys pg_attribute_unused(),
			  ScanKey orderbys, int norderbys pg_attribute_unused())
{
	HybridScanOpaque so = (HybridScanOpaque) scan->opaque;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));
	end_search(so);
}

static void
start_search(IndexScanDesc scan)
{
	HybridScanOpaque so = (HybridScanOpaque) scan->opaque;
	MemoryContext old;

	if (scan->numberOfOrderBys != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a hybrid index scan needs ORDER BY a distance to a vector")));
	pgstat_count_index_scan(scan->indexRelation);
	old = MemoryContextSwitchTo(so->context);
	so->search = search_begin(scan->indexRelation, &scan->orderByData[0]);
	/* a copy: the executor frees its key's value at a rescan before ours */
	if (!(scan->orderByData[0].sk_flags & SK_ISNULL))
		so->last_row.query = PG_DETOAST_DATUM_COPY(scan->orderByData[0].sk_argument);
	MemoryContextSwitchTo(old);
}

/* The row just returned, for hybridsearch_scan_distance(). */
static void
remember_row(IndexScanDesc scan, double distance, bool isnull)
{
	HybridScanOpaque so = (HybridScanOpaque) scan->opaque;
	ScanDistanceRow *row = &so->last_row;

	if (isnull || row->query == NULL)
	{
		scan_distance_forget(row);
		return;
	}
	row->tid = scan->xs_heaptid;
	row->distance = distance;
	scan_distance_returned(row);
}

bool
hybrid_gettuple(IndexScanDesc scan, ScanDirection dir pg_attribute_unused())
{
	HybridScanOpaque so = (HybridScanOpaque) scan->opaque;
	double		distance;
	bool		isnull;
	MemoryContext old;
	bool		found;

	if (so->search == NULL)
		start_search(scan);
	old = MemoryContextSwitchTo(so->context);
	found = search_next(so->search, &scan->xs_heaptid, &distance, &isnull);
	MemoryContextSwitchTo(old);
	if (!found)
		return false;

	scan->xs_recheck = false;
	scan->xs_recheckorderby = false;
	scan->xs_orderbyvals[0] = Float8GetDatum(distance);
	scan->xs_orderbynulls[0] = isnull;
	remember_row(scan, distance, isnull);
	return true;
}

void
hybrid_endscan(IndexScanDesc scan)
{
	HybridScanOpaque so = (HybridScanOpaque) scan->opaque;

	end_search(so);
	MemoryContextDelete(so->context);
	pfree(so);
	scan->opaque = NULL;
}
