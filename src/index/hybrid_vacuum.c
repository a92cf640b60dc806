/*
 * hybrid_vacuum.c
 *	  VACUUM for the hybrid access method.
 *
 * Bulk delete walks the stream, asks the callback about every live entry
 * and marks the dead ones with ENTRY_DEAD, page by page under generic WAL.
 * Each page's record also moves the metapage's counters by what it marked,
 * so that a crash in the middle leaves flags and counters in agreement (the
 * next VACUUM skips entries already dead and would never count them).  The
 * last record bumps the metapage's generation so that dense copies (caches)
 * reload before their next scan: this happens before VACUUM lets the heap
 * reuse those tuple slots.  The cleanup that ends VACUUM then compacts the
 * stream and gives freed pages back (hybrid_compact.c).
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

#include "index/hybrid.h"

/* An entry to mark dead: where its flag byte is, whether its value is NULL. */
typedef struct DeadEntry
{
	uint64		flag_position;
	bool		is_null;
} DeadEntry;

/* The entries to mark, in stream order. */
typedef struct DeadList
{
	DeadEntry  *entries;
	int64		count;
	int64		capacity;
} DeadList;

static void
collect_dead(Relation index, HybridMetaPageData *meta, IndexBulkDeleteCallback callback,
			 void *callback_state, IndexBulkDeleteResult *stats, DeadList *dead)
{
	StreamReader reader;
	EntryHeader header;
	uint64		position;

	stream_reader_begin(&reader, index, 0, meta->stream_end);
	while (stream_reader_next(&reader, &header, NULL, &position))
	{
		if (header.flags & ENTRY_DEAD)
			continue;
		if (!callback(&header.tid, callback_state))
		{
			stats->num_index_tuples++;
			continue;
		}
		if (dead->count == dead->capacity)
		{
			dead->capacity = Max(1024, dead->capacity * 2);
			dead->entries = repalloc_huge(dead->entries, sizeof(DeadEntry) * dead->capacity);
		}
		dead->entries[dead->count].flag_position = position + offsetof(EntryHeader, flags);
		dead->entries[dead->count].is_null = (header.flags & ENTRY_NULL) != 0;
		dead->count++;
	}
}

/*
 * Set ENTRY_DEAD at each collected position, one WAL record per page that
 * also moves the metapage's counters.  The metapage is locked first, as
 * appends lock it.
 */
static void
mark_dead(Relation index, DeadList *dead)
{
	Buffer		meta_buffer = ReadBuffer(index, HYBRID_METAPAGE_BLKNO);
	int64		i = 0;

	while (i < dead->count)
	{
		BlockNumber block = stream_block(dead->entries[i].flag_position);
		Buffer		buffer = ReadBuffer(index, block);
		GenericXLogState *state;
		Page		page;
		HybridMetaPage meta;

		vacuum_delay_point();
		LockBuffer(meta_buffer, BUFFER_LOCK_EXCLUSIVE);
		LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buffer, 0);
		meta = HybridPageGetMeta(GenericXLogRegisterBuffer(state, meta_buffer, 0));
		for (; i < dead->count && stream_block(dead->entries[i].flag_position) == block; i++)
		{
			uint8	   *flags = (uint8 *) page + stream_offset(dead->entries[i].flag_position);

			*flags |= ENTRY_DEAD;
			meta->dead_entries++;
			if (dead->entries[i].is_null)
				meta->null_entries--;
		}
		if (i == dead->count)
			meta->generation++;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buffer);
		LockBuffer(meta_buffer, BUFFER_LOCK_UNLOCK);
	}
	ReleaseBuffer(meta_buffer);
}

IndexBulkDeleteResult *
hybrid_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
				  IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	HybridMetaPageData meta = hybrid_read_meta(index);
	DeadList	dead;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	stats->num_index_tuples = 0;

	memset(&dead, 0, sizeof(dead));
	dead.entries = palloc(sizeof(DeadEntry));
	collect_dead(index, &meta, callback, callback_state, stats, &dead);
	mark_dead(index, &dead);
	stats->tuples_removed += dead.count;
	stats->num_pages = RelationGetNumberOfBlocks(index);
	pfree(dead.entries);
	return stats;
}

IndexBulkDeleteResult *
hybrid_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	HybridMetaPageData meta;

	if (info->analyze_only)
		return stats;
	hybrid_compact_after_vacuum(info->index, info->message_level);
	if (stats == NULL)
	{
		meta = hybrid_read_meta(info->index);
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		stats->num_index_tuples = meta.entries - meta.dead_entries;
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}
