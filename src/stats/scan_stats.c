/*
 * scan_stats.c
 *	  Scan counters per index and the hybridsearch_index_stats() function
 *	  behind the hybridsearch_stats view.
 *
 * Each index gets a slot: scans per path, total time, and a ring of the
 * most recent scan times from which the 95th percentile is taken.  Slots
 * are found by (database, index) and, when all are taken, the one used
 * least recently is recycled.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "catalog/pg_am.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "store/store.h"
#include "gpu/gpu_shared.h"
#include "index/hybrid.h"
#include "stats/scan_stats.h"

#define STATS_SLOTS			1024
#define RECENT_SCANS		256

typedef struct StatsSlot
{
	Oid			database;
	Oid			index;			/* InvalidOid: free */
	int64		scans[SCAN_PATHS];	/* by ScanPath */
	int64		gpu_fallbacks;
	int64		gpu_searches;	/* requests the worker answered */
	int64		gpu_batched;	/* sum of their launch batch sizes */
	double		gpu_kernel_ms;	/* sum of their kernel times */
	double		total_ms;
	int64		copy_loads;		/* dense copies loaded from the pages */
	int64		copy_evictions;
	double		last_load_ms;
	float		recent_ms[RECENT_SCANS];
	int64		last_used;
} StatsSlot;

typedef struct StatsTable
{
	LWLock	   *lock;			/* NULL for the backend-local table */
	int64		clock;
	StatsSlot	slots[STATS_SLOTS];
} StatsTable;

static StatsTable *shared_table = NULL;
static StatsTable *local_table = NULL;

PG_FUNCTION_INFO_V1(hybridsearch_index_stats);

void
scan_stats_request_shmem(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(StatsTable)));
	RequestNamedLWLockTranche("hybridsearch_stats", 1);
}

void
scan_stats_init_shmem(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared_table = ShmemInitStruct("hybridsearch_stats", sizeof(StatsTable), &found);
	if (!found)
	{
		memset(shared_table, 0, sizeof(StatsTable));
		shared_table->lock = &(GetNamedLWLockTranche("hybridsearch_stats"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

static StatsTable *
stats_table(void)
{
	if (shared_table)
		return shared_table;
	if (local_table == NULL)
		local_table = MemoryContextAllocZero(TopMemoryContext, sizeof(StatsTable));
	return local_table;
}

static void
table_lock(StatsTable *table, LWLockMode mode)
{
	if (table->lock)
		LWLockAcquire(table->lock, mode);
}

static void
table_unlock(StatsTable *table)
{
	if (table->lock)
		LWLockRelease(table->lock);
}

static int64
slot_scans(const StatsSlot *slot)
{
	return slot->scans[SCAN_PATH_CPU] + slot->scans[SCAN_PATH_GPU] + slot->scans[SCAN_PATH_STREAM];
}

static StatsSlot *
find_slot_in(StatsTable *table, Oid database, Oid index_oid, bool create)
{
	StatsSlot  *oldest = NULL;

	for (int i = 0; i < STATS_SLOTS; i++)
	{
		StatsSlot  *slot = &table->slots[i];

		if (slot->index == index_oid && slot->database == database)
			return slot;
		if (oldest == NULL || slot->last_used < oldest->last_used)
			oldest = slot;
	}
	if (!create)
		return NULL;
	memset(oldest, 0, sizeof(StatsSlot));
	oldest->database = database;
	oldest->index = index_oid;
	return oldest;
}

static StatsSlot *
find_slot(StatsTable *table, Oid index_oid, bool create)
{
	return find_slot_in(table, MyDatabaseId, index_oid, create);
}

void
scan_stats_record(Oid index_oid, ScanPath path, double milliseconds)
{
	StatsTable *table = stats_table();
	StatsSlot  *slot;
	int64		total;

	table_lock(table, LW_EXCLUSIVE);
	slot = find_slot(table, index_oid, true);
	total = slot_scans(slot);
	slot->recent_ms[total % RECENT_SCANS] = (float) milliseconds;
	slot->scans[path]++;
	slot->total_ms += milliseconds;
	slot->last_used = ++table->clock;
	table_unlock(table);
}

void
scan_stats_fallback(Oid index_oid)
{
	StatsTable *table = stats_table();
	StatsSlot  *slot;

	table_lock(table, LW_EXCLUSIVE);
	slot = find_slot(table, index_oid, true);
	slot->gpu_fallbacks++;
	slot->last_used = ++table->clock;
	table_unlock(table);
}

void
scan_stats_gpu_search(Oid index_oid, int batch_size, double kernel_ms)
{
	StatsTable *table = stats_table();
	StatsSlot  *slot;

	table_lock(table, LW_EXCLUSIVE);
	slot = find_slot(table, index_oid, true);
	slot->gpu_searches++;
	slot->gpu_batched += batch_size;
	slot->gpu_kernel_ms += kernel_ms;
	slot->last_used = ++table->clock;
	table_unlock(table);
}

void
scan_stats_copy_loaded(Oid index_oid, double milliseconds)
{
	StatsTable *table = stats_table();
	StatsSlot  *slot;

	table_lock(table, LW_EXCLUSIVE);
	slot = find_slot(table, index_oid, true);
	slot->copy_loads++;
	slot->last_load_ms = milliseconds;
	slot->last_used = ++table->clock;
	table_unlock(table);
}

/* Called under the store's lock: the stats lock comes after it. */
void
scan_stats_copy_evicted(Oid database, Oid index_oid)
{
	StatsTable *table = stats_table();
	StatsSlot  *slot;

	table_lock(table, LW_EXCLUSIVE);
	slot = find_slot_in(table, database, index_oid, true);
	slot->copy_evictions++;
	table_unlock(table);
}

static int
float_order(const void *a, const void *b)
{
	float		x = *(const float *) a;
	float		y = *(const float *) b;

	return (x > y) - (x < y);
}

/* 95th percentile (nearest rank) of the recent scan times in a copied slot. */
static double
p95_ms(StatsSlot *slot)
{
	int64		total = slot_scans(slot);
	int			count = (int) Min(total, RECENT_SCANS);
	int			rank;

	if (count == 0)
		return 0.0;
	qsort(slot->recent_ms, count, sizeof(float), float_order);
	rank = (int) ceil(0.95 * count);
	return slot->recent_ms[Max(rank, 1) - 1];
}

Datum
hybridsearch_index_stats(PG_FUNCTION_ARGS)
{
	Oid			index_oid = PG_GETARG_OID(0);
	TupleDesc	tupdesc;
	Relation	index;
	HybridMetaPageData meta;
	StatsTable *table = stats_table();
	StatsSlot	slot;
	StatsSlot  *found;
	CopyUsage	copy;
	int64		scans;
	int64		gpu_rows;
	int64		gpu_bytes;
	Datum		values[23];
	bool		nulls[23] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	index = hybrid_open_readable(index_oid);
	meta = hybrid_read_meta(index);

	table_lock(table, LW_SHARED);
	found = find_slot(table, index_oid, false);
	if (found)
		slot = *found;
	else
		memset(&slot, 0, sizeof(slot));
	table_unlock(table);
	store_usage(index_oid, &copy);
	gpu_resident_usage(MyDatabaseId, index->rd_node, &gpu_rows, &gpu_bytes);
	scans = slot_scans(&slot);

	values[0] = Int64GetDatum(meta.entries - meta.dead_entries - meta.null_entries);
	values[1] = Int64GetDatum(meta.null_entries);
	values[2] = Int64GetDatum(meta.dead_entries);
	values[3] = Int32GetDatum(meta.dim);
	values[4] = CStringGetTextDatum(hybrid_index_precision(index) == PRECISION_HALF ? "half" : "full");
	values[5] = Int64GetDatum(copy.rows);
	values[6] = Int64GetDatum((int64) copy.bytes);
	values[7] = Int64GetDatum(slot.scans[SCAN_PATH_CPU]);
	values[8] = Int64GetDatum(slot.scans[SCAN_PATH_GPU]);
	values[9] = Int64GetDatum(slot.gpu_fallbacks);
	values[10] = Float8GetDatum(scans > 0 ? slot.total_ms / scans : 0.0);
	nulls[10] = (scans == 0);
	values[11] = Float8GetDatum(p95_ms(&slot));
	nulls[11] = (scans == 0);
	values[12] = Int64GetDatum(gpu_rows);
	values[13] = Int64GetDatum(gpu_bytes);
	values[14] = Float8GetDatum(slot.gpu_searches > 0 ?
								(double) slot.gpu_batched / slot.gpu_searches : 0.0);
	nulls[14] = (slot.gpu_searches == 0);
	values[15] = Float8GetDatum(slot.gpu_searches > 0 ?
								slot.gpu_kernel_ms / slot.gpu_searches : 0.0);
	nulls[15] = (slot.gpu_searches == 0);
	values[16] = CStringGetTextDatum(shared_table ? "cluster" : "backend");
	values[17] = CStringGetTextDatum(copy.state);
	values[18] = CStringGetTextDatum(copy.shared ? "shared" : "backend");
	values[19] = Int64GetDatum(slot.copy_loads);
	values[20] = Int64GetDatum(slot.copy_evictions);
	values[21] = Float8GetDatum(slot.last_load_ms);
	nulls[21] = (slot.copy_loads == 0);
	values[22] = Int64GetDatum(slot.scans[SCAN_PATH_STREAM]);

	index_close(index, AccessShareLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
