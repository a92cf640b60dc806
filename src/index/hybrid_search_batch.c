/*
 * hybrid_search_batch.c
 *	  hybridsearch_search_batch(index, queries, k): the k nearest rows of
 *	  a hybrid index's table for each of many queries, in one statement.
 *
 * Each query gets exactly the rows its own "ORDER BY column <op> query
 * LIMIT k" would return through the index under the caller's snapshot:
 * the same search (search.h), with the heap visibility check an index
 * scan makes.  Queries go in groups whose searches begin together, so the
 * CPU computes each group's first candidates in one sgemm pass
 * (search_begin_many).  Rows come back as (query number, heap TID,
 * distance); the TID is the visible tuple's, to join back on ctid.
 */
#include "postgres.h"

#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "index/hybrid.h"
#include "search/search.h"

#define SEARCH_GROUP			256 /* searches begun together */

typedef struct BatchOutput
{
	Tuplestorestate *store;
	TupleDesc	descriptor;
	Relation	heap;
	IndexFetchTableData *fetch;
	TupleTableSlot *slot;
	Snapshot	snapshot;
	int			k;
} BatchOutput;

/* The table of the index, readable by the caller row by row. */
static Relation
open_heap_checked(Relation index)
{
	Oid			heap_oid = index->rd_index->indrelid;

	if (check_enable_rls(heap_oid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("hybridsearch_search_batch does not apply row-level security policies"),
				 errdetail("Table \"%s\" has row-level security enabled for the current user.",
						   get_rel_name(heap_oid)),
				 errhint("Query the table with ORDER BY ... LIMIT in a LATERAL subquery instead.")));
	return table_open(heap_oid, AccessShareLock);
}

static void
check_queries(Relation index, ArrayType *queries, int k)
{
	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1")));
	if (ARR_NDIM(queries) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("queries must be a one-dimensional array")));
	if (array_contains_nulls(queries))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("queries must not contain NULLs")));
	if (ARR_ELEMTYPE(queries) != index->rd_opcintype[0])
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("index \"%s\" orders %s values, the queries are %s",
						RelationGetRelationName(index),
						format_type_be(index->rd_opcintype[0]),
						format_type_be(ARR_ELEMTYPE(queries)))));
}

/* Up to k rows of one search that the snapshot sees, as output rows. */
static void
emit_visible(BatchOutput *out, Search *search, int query_number)
{
	ItemPointerData tid;
	double		distance;
	bool		distance_isnull;
	int			emitted = 0;

	while (emitted < out->k && search_next(search, &tid, &distance, &distance_isnull))
	{
		bool		call_again = false;
		bool		all_dead = false;
		Datum		values[3];
		bool		nulls[3] = {false, false, distance_isnull};

		if (!table_index_fetch_tuple(out->fetch, &tid, out->snapshot, out->slot,
									 &call_again, &all_dead))
			continue;
		values[0] = Int32GetDatum(query_number);
		values[1] = PointerGetDatum(&out->slot->tts_tid);
		values[2] = Float8GetDatum(distance);
		tuplestore_putvalues(out->store, out->descriptor, values, nulls);
		emitted++;
	}
}

/* Search one group of queries and write their rows. */
static void
search_group(BatchOutput *out, Relation index, Datum *queries, int first, int count)
{
	ScanKeyData *orderbys = palloc0(sizeof(ScanKeyData) * count);
	Search	  **searches = palloc(sizeof(Search *) * count);

	for (int i = 0; i < count; i++)
		orderbys[i].sk_argument = queries[first + i];
	search_begin_many(index, orderbys, count, out->k, searches);
	for (int i = 0; i < count; i++)
	{
		emit_visible(out, searches[i], first + i + 1);
		search_end(searches[i]);
	}
}

PG_FUNCTION_INFO_V1(hybridsearch_search_batch);

Datum
hybridsearch_search_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Relation	index = hybrid_open_readable(PG_GETARG_OID(0));
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(1);
	BatchOutput out;
	MemoryContext group_context;
	MemoryContext old;
	Datum	   *queries;
	int			count;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	check_queries(index, array, PG_GETARG_INT32(2));
	InitMaterializedSRF(fcinfo, 0);
	out.store = rsinfo->setResult;
	out.descriptor = rsinfo->setDesc;
	out.k = PG_GETARG_INT32(2);
	out.heap = open_heap_checked(index);
	out.snapshot = GetActiveSnapshot();
	out.fetch = table_index_fetch_begin(out.heap);
	out.slot = table_slot_create(out.heap, NULL);
	get_typlenbyvalalign(ARR_ELEMTYPE(array), &typlen, &typbyval, &typalign);
	deconstruct_array(array, ARR_ELEMTYPE(array), typlen, typbyval, typalign,
					  &queries, NULL, &count);

	group_context = AllocSetContextCreate(CurrentMemoryContext, "hybrid search batch",
										  ALLOCSET_DEFAULT_SIZES);
	for (int first = 0; first < count; first += SEARCH_GROUP)
	{
		/* the reset releases the group's pins on the copy */
		old = MemoryContextSwitchTo(group_context);
		search_group(&out, index, queries, first, Min(SEARCH_GROUP, count - first));
		MemoryContextSwitchTo(old);
		MemoryContextReset(group_context);
	}
	MemoryContextDelete(group_context);
	ExecDropSingleTupleTableSlot(out.slot);
	table_index_fetch_end(out.fetch);
	table_close(out.heap, AccessShareLock);
	index_close(index, AccessShareLock);
	return (Datum) 0;
}
