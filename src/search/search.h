/*
 * search.h
 *	  Exact k-nearest-neighbour search of a hybrid index: what the index
 *	  AM's scan asks for, one (TID, distance) after another.
 *
 * The scan knows nothing of copies, devices or fallbacks: search_begin
 * pins the index's shared copy (store.h), picks a candidate source (the
 * GPU worker, the CPU pass over the copy, or a pass over the pages when
 * there is no copy: source.h) and search_next returns rows in exact
 * distance order, non-NULL vectors first (NaN distances last among them),
 * then the NULL ones.  A NULL query (ORDER BY distance to NULL) returns
 * every row in no particular order with NULL distances.
 */
#ifndef HYBRIDSEARCH_SEARCH_H
#define HYBRIDSEARCH_SEARCH_H

#include "access/skey.h"
#include "utils/relcache.h"

typedef struct Search Search;

extern Search *search_begin(Relation index, ScanKey orderby);
extern void search_begin_many(Relation index, ScanKey orderbys, int count, int64 rows_wanted,
							  Search **searches);
extern bool search_next(Search *search, ItemPointer tid, double *distance, bool *distance_isnull);
extern void search_end(Search *search);
extern int64 search_prewarm(Relation index);

#endif							/* HYBRIDSEARCH_SEARCH_H */
