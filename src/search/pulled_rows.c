/*
 * pulled_rows.c
 *	  The rows a GPU or batched pass has handed a search already.
 *
 * A GPU search pulls tens to a few thousand rows of a copy of millions, so
 * the set starts as a hash set: a bitmap over every row of the copy had
 * to be allocated and zeroed by each scan (1.25 MB at 10M rows), which
 * cost more than the rows it ever held.  It becomes a bitmap when a pass
 * over every row asks (the CPU source after a GPU failure, rows the GPU
 * copy cannot be trusted with), where that cost is the pass's own.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/memutils.h"

#include "search/source.h"

typedef struct PulledEntry
{
	int64		row;
	char		status;
} PulledEntry;

#define SH_PREFIX pulledset
#define SH_ELEMENT_TYPE PulledEntry
#define SH_KEY_TYPE int64
#define SH_KEY row
#define SH_HASH_KEY(tb, key) \
	hash_combine(murmurhash32((uint32) (key)), murmurhash32((uint32) ((uint64) (key) >> 32)))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

#define PULLED_SET_FIRST_SIZE 256

static inline void
bitmap_mark(uint8 *bitmap, int64 row)
{
	bitmap[row / 8] |= (1 << (row % 8));
}

bool
pulled_set_contains(struct pulledset_hash *set, int64 row)
{
	return pulledset_lookup(set, row) != NULL;
}

void
mark_pulled(Search *search, int64 row)
{
	bool		found;

	if (search->pulled_bitmap != NULL)
	{
		bitmap_mark(search->pulled_bitmap, row);
		return;
	}
	if (search->pulled_set == NULL)
		search->pulled_set = pulledset_create(GetMemoryChunkContext(search),
											  PULLED_SET_FIRST_SIZE, NULL);
	pulledset_insert(search->pulled_set, row, &found);
}

/* From here on a bitmap over every row of the search's copy. */
void
pulled_rows_dense(Search *search)
{
	pulledset_iterator iterator;
	PulledEntry *entry;

	if (search->pulled_bitmap != NULL)
		return;
	search->pulled_bitmap = MemoryContextAllocZero(GetMemoryChunkContext(search),
												   (search->row_count + 7) / 8);
	if (search->pulled_set == NULL)
		return;
	pulledset_start_iterate(search->pulled_set, &iterator);
	while ((entry = pulledset_iterate(search->pulled_set, &iterator)) != NULL)
		bitmap_mark(search->pulled_bitmap, entry->row);
	pulledset_destroy(search->pulled_set);
	search->pulled_set = NULL;
}
