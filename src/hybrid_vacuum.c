/*
 * hybrid_vacuum.c
 *	  VACUUM for the hybrid access method.
 *
 * Bulk delete walks the stream, asks the callback about every live entry
 * and marks the dead ones with ENTRY_DEAD, page by page under generic WAL.
 * When it marked any, it bumps the metapage's generation so that dense
 * copies (caches) reload before their next scan: this happens before VACUUM
 * lets the heap reuse those tuple slots.  Entries are never moved; REINDEX
 * reclaims their space.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

#include "hybrid.h"

/* Stream positions of the flag bytes to set, in stream order. */
typedef struct DeadList
{
	uint64	   *flag_positions;
	int64		count;
	int64		capacity;
	int64		nulls;			/* how many of them are NULL entries */
} DeadList;

static void
collect_dead(Relation index, HybridMetaPageData *meta, IndexBulkDeleteCallback callback,
			 void *callback_state, IndexBulkDeleteResult *stats, DeadList *dead)
{
	StreamReader reader;
	EntryHeader header;
	float	   *values = palloc(sizeof(float) * Max(meta->dim, 1));
	uint64		position;

	stream_reader_begin(&reader, index, 0, meta->stream_end);
	while (stream_reader_next(&reader, &header, values, &position))
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
			dead->flag_positions = repalloc_huge(dead->flag_positions,
												 sizeof(uint64) * dead->capacity);
		}
		dead->flag_positions[dead->count++] = position + offsetof(EntryHeader, flags);
		if (header.flags & ENTRY_NULL)
			dead->nulls++;
	}
	pfree(values);
}

/* Set ENTRY_DEAD at each collected position, one WAL record per page. */
static void
mark_dead(Relation index, DeadList *dead)
{
	int64		i = 0;

	while (i < dead->count)
	{
		BlockNumber block = HYBRID_FIRST_STREAM_BLKNO +
			(BlockNumber) (dead->flag_positions[i] / STREAM_PAGE_BYTES);
		Buffer		buffer = ReadBuffer(index, block);
		GenericXLogState *state;
		Page		page;

		vacuum_delay_point();
		LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buffer, 0);
		for (; i < dead->count &&
			 HYBRID_FIRST_STREAM_BLKNO + dead->flag_positions[i] / STREAM_PAGE_BYTES == block;
			 i++)
		{
			uint8	   *flags = (uint8 *) page + SizeOfPageHeaderData +
				dead->flag_positions[i] % STREAM_PAGE_BYTES;

			*flags |= ENTRY_DEAD;
		}
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buffer);
	}
}

static void
update_meta_after_delete(Relation index, DeadList *dead)
{
	Buffer		buffer = ReadBuffer(index, HYBRID_METAPAGE_BLKNO);
	GenericXLogState *state;
	HybridMetaPage meta;

	LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	meta = HybridPageGetMeta(GenericXLogRegisterBuffer(state, buffer, 0));
	meta->dead_entries += dead->count;
	meta->null_entries -= dead->nulls;
	meta->generation++;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buffer);
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
	dead.flag_positions = palloc(sizeof(uint64));
	collect_dead(index, &meta, callback, callback_state, stats, &dead);
	if (dead.count > 0)
	{
		mark_dead(index, &dead);
		update_meta_after_delete(index, &dead);
	}
	stats->tuples_removed += dead.count;
	stats->num_pages = RelationGetNumberOfBlocks(index);
	pfree(dead.flag_positions);
	return stats;
}

IndexBulkDeleteResult *
hybrid_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	HybridMetaPageData meta;

	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		meta = hybrid_read_meta(info->index);
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		stats->num_index_tuples = meta.entries - meta.dead_entries;
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}
