/*
 * copy_load.h
 *	  Filling a copy from its index's pages, and views of a copy.  For the
 *	  store's files only (see store.h).
 */
#ifndef HYBRIDSEARCH_COPY_LOAD_H
#define HYBRIDSEARCH_COPY_LOAD_H

#include "store/store_arena.h"

extern void write_row(const CopyLayout *layout, int dim, bool half, char *extent, int64 i,
					  const float *values, const EntryHeader *entry, uint64 position,
					  RowBounds *stats);
extern void row_bounds_merge(RowBounds *into, const RowBounds *from);
extern void copy_publish(StoreArena *arena, CopyHeader *header, int64 rows, int64 nulls,
						 uint64 loaded_to, const RowBounds *stats);
extern bool copy_append(StoreArena *arena, int slot, Relation index, uint64 end);
extern void copy_refresh(StoreArena *arena, int slot, Relation index, uint32 generation);
extern bool copy_load_parallel(StoreArena *arena, int slot, Relation index,
							   const HybridMetaPageData *meta);
extern CopyView *copy_view(StoreArena *arena, int slot, MemoryContext context);

#endif							/* HYBRIDSEARCH_COPY_LOAD_H */
