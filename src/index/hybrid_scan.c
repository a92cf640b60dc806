/*
 * hybrid_scan.c
 *	  Index scans of the hybrid access method: rows in exact distance
 *	  order, NULL vectors last, as long as the executor asks.
 *
 * The distances returned are the operator's own values, so the executor
 * needs no recheck of the ORDER BY.
 */
#include "postgres.h"

#include "access/relscan.h"
#include "portability/instr_time.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "gpu/gpu_client.h"
#include "search/search.h"
#include "index/hybrid.h"
#include "stats/scan_stats.h"

typedef struct HybridScanOpaqueData
{
	MemoryContext context;		/* everything of the current rescan */
	bool		started;
	DenseRows  *rows;
	Search	   *search;			/* NULL when ordering by a NULL vector */
	int64		unordered_returned; /* rows returned for a NULL query */
	double		elapsed_ms;		/* time spent inside this scan so far */
} HybridScanOpaqueData;

typedef HybridScanOpaqueData *HybridScanOpaque;

IndexScanDesc
hybrid_beginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HybridScanOpaque so = palloc0(sizeof(HybridScanOpaqueData));

	so->context = AllocSetContextCreate(CurrentMemoryContext, "hybrid scan",
										ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	scan->xs_orderbyvals = palloc0(sizeof(Datum) * Max(norderbys, 1));
	scan->xs_orderbynulls = palloc(sizeof(bool) * Max(norderbys, 1));
	return scan;
}

/* Count a finished (or abandoned) scan in hybridsearch_stats. */
static void
record_scan(IndexScanDesc scan)
{
	HybridScanOpaque so = (HybridScanOpaque) scan->opaque;

	if (so->started)
		scan_stats_record(RelationGetRelid(scan->indexRelation),
						  so->search && so->search->used_gpu ? SCAN_PATH_GPU : SCAN_PATH_CPU,
						  so->elapsed_ms);
	so->elapsed_ms = 0.0;
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
	record_scan(scan);
	MemoryContextReset(so->context);
	so->started = false;
	so->rows = NULL;
	so->search = NULL;
	so->unordered_returned = 0;
}

static void
start_scan(IndexScanDesc scan)
{
	HybridScanOpaque so = (HybridScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	HybridMetaPageData meta = hybrid_read_meta(index);
	MemoryContext old = MemoryContextSwitchTo(so->context);
	ScanKey		orderby;
	bool		from_cache;

	if (scan->numberOfOrderBys != 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a hybrid index scan needs ORDER BY a distance to a vector")));

	so->rows = cpu_cache_get(index, &meta, hybrid_index_precision(index), so->context,
							 &from_cache);
	orderby = &scan->orderByData[0];
	if (!(orderby->sk_flags & SK_ISNULL))
	{
		Vector	   *query = DatumGetVector(orderby->sk_argument);

		/* the operator's own error, raised only where it would evaluate */
		if (so->rows->rows > 0 && so->rows->dim != query->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different vector dimensions %d and %d",
							so->rows->dim, query->dim)));
		so->search = search_begin(index, so->rows, hybrid_index_metric(index), query->x,
								  gpu_route(index, so->rows->rows));
	}
	so->started = true;
	MemoryContextSwitchTo(old);
}

/* ORDER BY distance to NULL: every distance is NULL, any order will do. */
static bool
next_unordered(HybridScanOpaque so, ItemPointer tid)
{
	int64		i = so->unordered_returned;

	while (i < so->rows->rows && so->rows->dead[i])
		i++;
	if (i < so->rows->rows)
		*tid = so->rows->tids[i];
	else if (i < so->rows->rows + so->rows->nulls)
		*tid = so->rows->null_tids[i - so->rows->rows];
	else
		return false;
	so->unordered_returned = i + 1;
	return true;
}

bool
hybrid_gettuple(IndexScanDesc scan, ScanDirection dir pg_attribute_unused())
{
	HybridScanOpaque so = (HybridScanOpaque) scan->opaque;
	double		distance = 0.0;
	bool		isnull = true;
	bool		found;
	instr_time	start;
	instr_time	elapsed;

	INSTR_TIME_SET_CURRENT(start);
	if (!so->started)
		start_scan(scan);

	if (so->search)
		found = search_next(so->search, &scan->xs_heaptid, &distance, &isnull);
	else
		found = next_unordered(so, &scan->xs_heaptid);
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	so->elapsed_ms += INSTR_TIME_GET_MILLISEC(elapsed);
	if (!found)
		return false;

	scan->xs_recheck = false;
	scan->xs_recheckorderby = false;
	scan->xs_orderbyvals[0] = Float8GetDatum(distance);
	scan->xs_orderbynulls[0] = isnull;
	return true;
}

void
hybrid_endscan(IndexScanDesc scan)
{
	HybridScanOpaque so = (HybridScanOpaque) scan->opaque;

	record_scan(scan);
	MemoryContextDelete(so->context);
	pfree(so);
	scan->opaque = NULL;
}
