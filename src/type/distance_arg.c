/*
 * distance_arg.c
 *	  Detoasting a distance function's arguments once per query.
 *
 * "ORDER BY embedding <=> (SELECT embedding FROM items WHERE id = 42)
 * LIMIT 10" hands every call of the operator the same datum for the query
 * vector: the subquery's result, which for a vector of more than about
 * 500 dimensions stored with the default storage is a pointer to a TOAST
 * value.  The executor computes the ORDER BY expression again for each
 * row it returns (a sequential scan's rows, and an index scan's unless
 * the scan's own distance is taken: index/scan_distance.h), so each
 * of those calls fetched the whole value from the TOAST table again (an
 * index lookup and a copy of 3 kB for 768 dimensions).
 *
 * distance_arg() keeps the last out-of-line value each argument position
 * of a call site detoasted to, in the call site's FmgrInfo (fn_extra,
 * which lives as long as the expression: one execution of a query, at
 * most a transaction for PL/pgSQL's simple expressions), and hands that
 * copy back while the same TOAST pointer comes again.  A TOAST pointer
 * names its value by the TOAST table and the value's OID, and a value is
 * never changed in place, so within that lifetime the same pointer is the
 * same bytes (an OID is only reused after its value is vacuumed away and
 * the OID counter has wrapped around).
 * An argument that is a new value on every call (a column of out-of-line
 * vectors) is detoasted into the call site's memory instead of the
 * per-row context, the previous copy freed: the same work as before.
 */
#include "postgres.h"

#include "access/detoast.h"

#include "type/distance_arg.h"

#define DISTANCE_ARG_SLOTS 2

typedef struct DistanceArgCache
{
	bool		valid[DISTANCE_ARG_SLOTS];
	struct varatt_external pointer[DISTANCE_ARG_SLOTS];
	struct varlena *value[DISTANCE_ARG_SLOTS];
} DistanceArgCache;

static DistanceArgCache *
arg_cache(FunctionCallInfo fcinfo)
{
	FmgrInfo   *flinfo = fcinfo->flinfo;

	if (flinfo->fn_extra == NULL)
		flinfo->fn_extra = MemoryContextAllocZero(flinfo->fn_mcxt,
												  sizeof(DistanceArgCache));
	return (DistanceArgCache *) flinfo->fn_extra;
}

/*
 * The argument ARGNO of the call, detoasted.  The result must not be freed
 * by the caller: it may be the call site's cached copy.
 */
struct varlena *
distance_arg(FunctionCallInfo fcinfo, int argno)
{
	struct varlena *datum = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(argno));
	struct varatt_external pointer;
	DistanceArgCache *cache;
	MemoryContext old;

	if (!VARATT_IS_EXTERNAL_ONDISK(datum) || fcinfo->flinfo == NULL ||
		argno >= DISTANCE_ARG_SLOTS)
		return pg_detoast_datum(datum);

	VARATT_EXTERNAL_GET_POINTER(pointer, datum);
	cache = arg_cache(fcinfo);
	if (cache->valid[argno] &&
		memcmp(&cache->pointer[argno], &pointer, sizeof(pointer)) == 0)
		return cache->value[argno];

	if (cache->valid[argno])
		pfree(cache->value[argno]);
	cache->valid[argno] = false;
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	cache->value[argno] = detoast_attr(datum);
	MemoryContextSwitchTo(old);
	cache->pointer[argno] = pointer;
	cache->valid[argno] = true;
	return cache->value[argno];
}
