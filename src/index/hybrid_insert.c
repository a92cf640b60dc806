/*
 * hybrid_insert.c
 *	  aminsert for the hybrid access method: append one entry.
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "index/hybrid.h"

bool
hybrid_insert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
			  Relation heap pg_attribute_unused(),
			  IndexUniqueCheck check_unique pg_attribute_unused(),
			  bool index_unchanged pg_attribute_unused(),
			  IndexInfo *info pg_attribute_unused())
{
	MemoryContext insert_context = AllocSetContextCreate(CurrentMemoryContext,
														 "hybrid insert",
														 ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(insert_context);

	if (isnull[0])
		hybrid_append_entry(index, heap_tid, NULL);
	else
	{
		EntryPayload payload = hybrid_entry_payload(index, hybrid_index_kind(index), values[0]);

		hybrid_append_entry(index, heap_tid, &payload);
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(insert_context);
	return false;
}
