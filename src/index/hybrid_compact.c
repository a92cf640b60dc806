/*
 * hybrid_compact.c
 *	  VACUUM's compaction of a hybrid index's entry stream, and the
 *	  truncation of the pages it frees.
 *
 * After bulk delete has flagged entries dead, amvacuumcleanup fills the
 * holes they leave: the last live entry of the stream moves into the first
 * dead entry of the same size (same size, so the stream stays a sequence
 * of back-to-back entries and nothing else moves), until no hole lies
 * before a live entry of its size.  A NULL entry with no dead NULL entry
 * before it moves into a dead vector entry instead, followed by a dead
 * filler entry of the rest (of another dimension count than the index's,
 * so no copy numbers it): else live NULLs near the end would keep the
 * stream from ending earlier.  The stream then ends with the last
 * live entry; the metapage's stream end, counters and epoch move in one
 * record, and the pages past the new end are truncated, so the relation
 * shrinks.
 *
 * Crash safety.  One move is one generic WAL record holding the
 * destination's pages and the source's flag page: the entry appears at its
 * destination and dies at its source atomically, so it is never lost and
 * never present twice.  An entry spanning more pages than a record holds
 * (very long vectors) has its other pages written first, while the
 * destination's header still says dead, and its flag page last, with the
 * source.  The metapage record that lowers the stream end is flushed
 * before the file is truncated, and so is the truncation's record, so
 * that recovery never replays a move into a block the file no longer has.
 *
 * Concurrency.  Moves change what a stream position holds and the row
 * numbering of the dense and GPU copies, so they run under an
 * AccessExclusiveLock on the index, taken conditionally (never waiting,
 * hence no deadlock) as VACUUM takes the table's for truncation.  No scan,
 * copy load or insert of the index runs meanwhile, and a standby replays
 * the lock before the moves.  The first record under the lock gives the
 * metapage a new epoch, so every copy is reloaded before its next scan.
 * When others wait for the lock, compaction gives way after a short slice
 * (COMPACT_MIN_HOLD_MS), truncates what it freed so far, and takes the lock
 * again; when it cannot get the lock in COMPACT_LOCK_TIMEOUT_MS it stops,
 * and the next VACUUM goes on.
 *
 * A VACUUM that vacuums indexes in parallel runs its cleanup in parallel
 * mode, where no transaction ID can be assigned, and the standby needs one
 * to know when the lock ends: compaction then waits for the end of the
 * VACUUM's transaction for that table (its pre-commit), still under the
 * locks VACUUM holds.
 */
#include "postgres.h"

#include <signal.h>

#include "access/generic_xlog.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xloginsert.h"
#include "catalog/storage.h"
#include "catalog/storage_xlog.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/bufmgr.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/smgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/wait_event.h"

#include "elapsed.h"
#include "hybridsearch.h"
#include "index/hybrid.h"

/* Compaction is worth its copy reloads once this share of entries is dead. */
#define COMPACT_MIN_DEAD_PERCENT	10
/* Lock attempts: every COMPACT_LOCK_RETRY_MS for up to COMPACT_LOCK_TIMEOUT_MS. */
#define COMPACT_LOCK_RETRY_MS		10
#define COMPACT_LOCK_TIMEOUT_MS		5000
/* Hold the lock at least this long before giving way to waiters. */
#define COMPACT_MIN_HOLD_MS			100
/* Look for waiters every this many moves. */
#define COMPACT_WAITER_CHECK_MOVES	16
/* Buffers one generic WAL record can hold. */
#define RECORD_BUFFERS				MAX_GENERIC_XLOG_PAGES

/* One entry of the stream, as compaction sees it. */
typedef struct StreamSlot
{
	uint64		position;
	uint32		size;
	uint16		filler;			/* a dead filler entry of this many bytes
								 * follows (a NULL moved into a vector's place) */
	bool		dead;
} StreamSlot;

/* Where the search for holes of one entry size has got to. */
typedef struct HoleCursor
{
	uint32		size;
	int64		next;			/* slots below it hold no usable hole */
} HoleCursor;

typedef struct Compaction
{
	Relation	index;
	int			dim;			/* the index's dimension count */
	StreamSlot *slots;			/* every entry below end, in stream order */
	int64		count;
	int64		capacity;
	uint64		end;			/* slots cover the stream up to here */
	int64		back;			/* slots at and above it need no move */
	HoleCursor *cursors;
	int			cursor_count;
	char	   *entry;			/* the entry being moved */
	int64		moves;
	BlockNumber pages_freed;
	double		longest_slice_ms;	/* the longest time the lock was held */
} Compaction;

/* Indexes whose compaction waits for their parallel VACUUM's pre-commit. */
static List *deferred_indexes = NIL;
static int	deferred_elevel = DEBUG2;
static bool deferral_registered = false;

/* Die as kill -9 would, where hybridsearch.vacuum_fault says. */
static void
fault_point(VacuumFault point)
{
	if ((VacuumFault) hybridsearch_vacuum_fault == point)
		kill(MyProcPid, SIGKILL);
}

/* Add the entries of [c->end, end) to the slots. */
static void
collect(Compaction *c, uint64 end)
{
	StreamReader reader;
	EntryHeader header;
	uint64		position;

	stream_reader_begin(&reader, c->index, c->end, end);
	while (stream_reader_next(&reader, &header, NULL, &position))
	{
		if (c->count == c->capacity)
		{
			c->capacity = Max(1024, c->capacity * 2);
			c->slots = repalloc_huge(c->slots, sizeof(StreamSlot) * c->capacity);
		}
		c->slots[c->count].position = position;
		c->slots[c->count].size = ENTRY_ALIGNED_SIZE(header.dim);
		c->slots[c->count].filler = 0;
		c->slots[c->count].dead = (header.flags & ENTRY_DEAD) != 0;
		c->count++;
	}
	c->end = end;
}

/* The first dead slot of size below limit, or -1. */
static int64
find_hole(Compaction *c, uint32 size, int64 limit)
{
	HoleCursor *cursor = NULL;

	for (int i = 0; i < c->cursor_count; i++)
		if (c->cursors[i].size == size)
			cursor = &c->cursors[i];
	if (cursor == NULL)
	{
		c->cursors = repalloc(c->cursors, sizeof(HoleCursor) * (c->cursor_count + 1));
		cursor = &c->cursors[c->cursor_count++];
		cursor->size = size;
		cursor->next = 0;
	}
	for (; cursor->next < limit; cursor->next++)
	{
		StreamSlot *slot = &c->slots[cursor->next];

		if (slot->dead && slot->size == size)
			return cursor->next++;
	}
	return -1;
}

/*
 * The size of a dead vector entry a NULL entry may fill, leaving a filler
 * of the rest, or 0.  The filler's dimension count (the index's, less 3)
 * is never the index's, so copies do not number it.
 */
static uint32
vector_hole_size(const Compaction *c)
{
	return c->dim >= 3 ? ENTRY_ALIGNED_SIZE(c->dim) : 0;
}

/* The next move, the last live entry into the first hole it fits. */
static bool
next_move(Compaction *c, int64 *hole, int64 *source)
{
	uint32		null_size = ENTRY_ALIGNED_SIZE(0);

	while (c->back > 0)
	{
		int64		i = --c->back;

		if (c->slots[i].dead)
			continue;
		*hole = find_hole(c, c->slots[i].size, i);
		if (*hole < 0 && c->slots[i].size == null_size && vector_hole_size(c) > 0)
			*hole = find_hole(c, vector_hole_size(c), i);
		if (*hole >= 0)
		{
			*source = i;
			return true;
		}
	}
	return false;
}

/* Write the part of the entry bytes [position, position + len) in block. */
static void
write_in_block(Page page, BlockNumber block, uint64 position, const char *bytes, Size len)
{
	uint64		block_start = (uint64) (block - HYBRID_FIRST_STREAM_BLKNO) * STREAM_PAGE_BYTES;
	uint64		from = Max(position, block_start);
	uint64		to = Min(position + len, block_start + STREAM_PAGE_BYTES);

	if (from < to)
		memcpy((char *) page + stream_offset(from), bytes + (from - position), to - from);
}

static uint8 *
flag_byte(Page page, uint64 entry_position)
{
	return (uint8 *) page + stream_offset(entry_position + offsetof(EntryHeader, flags));
}

/*
 * One generic WAL record writing the entry at destination into blocks
 * (ascending) and, when final, making it live there and dead at source.
 */
static void
write_record(Compaction *c, const BlockNumber *blocks, int nblocks, uint64 destination,
			 uint64 source, Size size, bool final)
{
	BlockNumber dest_flag_block = stream_block(destination + offsetof(EntryHeader, flags));
	BlockNumber source_flag_block = stream_block(source + offsetof(EntryHeader, flags));
	Buffer		buffers[RECORD_BUFFERS];
	GenericXLogState *state = GenericXLogStart(c->index);

	for (int i = 0; i < nblocks; i++)
	{
		Page		page;

		buffers[i] = ReadBuffer(c->index, blocks[i]);
		LockBuffer(buffers[i], BUFFER_LOCK_EXCLUSIVE);
		page = GenericXLogRegisterBuffer(state, buffers[i], 0);
		if (final && blocks[i] == dest_flag_block && !(*flag_byte(page, destination) & ENTRY_DEAD))
			elog(ERROR, "hybrid index \"%s\": compaction target at stream position " UINT64_FORMAT " is not dead",
				 RelationGetRelationName(c->index), destination);
		if (final && blocks[i] == source_flag_block && (*flag_byte(page, source) & ENTRY_DEAD))
			elog(ERROR, "hybrid index \"%s\": compaction source at stream position " UINT64_FORMAT " is dead",
				 RelationGetRelationName(c->index), source);
		write_in_block(page, blocks[i], destination, c->entry, size);
		if (final && blocks[i] == source_flag_block)
			*flag_byte(page, source) |= ENTRY_DEAD;
	}
	GenericXLogFinish(state);
	for (int i = 0; i < nblocks; i++)
		UnlockReleaseBuffer(buffers[i]);
}

/* The header of a dead entry taking size bytes of stream. */
static void
write_filler(char *dest, Size size)
{
	EntryHeader header;

	memset(dest, 0, ENTRY_VALUES_OFFSET);
	memset(&header, 0, sizeof(header));
	header.flags = ENTRY_DEAD;
	header.dim = (size - ENTRY_VALUES_OFFSET) / sizeof(float);
	memcpy(dest, &header, sizeof(header));
}

/*
 * Move the live entry at slot source into the hole at slot hole (same
 * size, or a vector's place for a NULL entry, with a filler after it).  Pages of the destination other than its flag's go first when
 * they do not all fit in the final record: the destination stays dead
 * until that record.
 */
static void
move_entry(Compaction *c, int64 hole, int64 source)
{
	uint64		destination = c->slots[hole].position;
	uint64		from = c->slots[source].position;
	Size		entry_size = c->slots[source].size;
	Size		filler = c->slots[hole].size - entry_size;
	Size		size = entry_size + (filler > 0 ? ENTRY_VALUES_OFFSET : 0);
	BlockNumber first = stream_block(destination);
	BlockNumber last = stream_block(destination + size - 1);
	BlockNumber flag_block = stream_block(destination + offsetof(EntryHeader, flags));
	BlockNumber source_block = stream_block(from + offsetof(EntryHeader, flags));
	/* buffers the final record must hold: both flags' pages */
	int			forced = source_block != flag_block ? 2 : 1;
	int			forced_in_destination = source_block <= last ? forced : 1;
	int			early_count = Max(0, (int) (last - first + 1) - forced_in_destination -
								  (RECORD_BUFFERS - forced));
	BlockNumber early[RECORD_BUFFERS];
	BlockNumber final[RECORD_BUFFERS];
	int			nearly = 0;
	int			nfinal = 0;

	hybrid_stream_read(c->index, from, c->entry, entry_size);
	if (filler > 0)
		write_filler(c->entry + entry_size, filler);
	for (BlockNumber block = first; block <= last; block++)
	{
		if (block == flag_block || block == source_block || early_count == 0)
		{
			final[nfinal++] = block;
			continue;
		}
		early[nearly++] = block;
		early_count--;
		if (nearly == RECORD_BUFFERS)
		{
			write_record(c, early, nearly, destination, from, size, false);
			nearly = 0;
		}
	}
	if (nearly > 0)
		write_record(c, early, nearly, destination, from, size, false);
	if (nfinal < (int) (last - first + 1))
		fault_point(VACUUM_FAULT_MID_MOVE);
	if (source_block > last)
		final[nfinal++] = source_block;
	write_record(c, final, nfinal, destination, from, size, true);
	c->slots[hole].dead = false;
	c->slots[hole].size = entry_size;
	c->slots[hole].filler = filler;
	c->slots[source].dead = true;
	c->moves++;
	if (c->moves == 1)
		fault_point(VACUUM_FAULT_AFTER_MOVE);
}

/*
 * Set the metapage's epoch anew and, with set_end, its stream end and
 * counters to what the slots show.  Returns the record's LSN.
 */
static XLogRecPtr
update_meta(Compaction *c, bool set_end)
{
	Buffer		buffer = ReadBuffer(c->index, HYBRID_METAPAGE_BLKNO);
	GenericXLogState *state;
	HybridMetaPage meta;
	XLogRecPtr	lsn;

	LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(c->index);
	meta = HybridPageGetMeta(GenericXLogRegisterBuffer(state, buffer, 0));
	meta->epoch = pg_prng_uint32(&pg_global_prng_state);
	if (set_end)
	{
		int64		dead = 0;

		int64		fillers = 0;

		for (int64 i = 0; i < c->count; i++)
		{
			dead += c->slots[i].dead ? 1 : 0;
			fillers += c->slots[i].filler > 0 ? 1 : 0;
		}
		meta->stream_end = c->end;
		meta->entries = c->count + fillers;
		meta->dead_entries = dead + fillers;
	}
	lsn = GenericXLogFinish(state);
	UnlockReleaseBuffer(buffer);
	return lsn;
}

/* Blocks the relation needs for a stream ending at end. */
static BlockNumber
blocks_for(uint64 end)
{
	return end > 0 ? stream_block(end - 1) + 1 : HYBRID_FIRST_STREAM_BLKNO;
}

/*
 * Cut the relation to the blocks its stream needs.  Both the metapage
 * record (lsn) and the truncation's own record reach disk first: recovery
 * must never meet a record for a block the file has lost.
 */
static void
truncate_tail(Compaction *c, XLogRecPtr lsn)
{
	BlockNumber keep = blocks_for(c->end);
	BlockNumber nblocks = RelationGetNumberOfBlocks(c->index);
	ForkNumber	fork = MAIN_FORKNUM;

	if (keep >= nblocks)
		return;
	if (RelationNeedsWAL(c->index))
		XLogFlush(lsn);
	fault_point(VACUUM_FAULT_BEFORE_TRUNCATE);
	RelationPreTruncate(c->index);
	if (RelationNeedsWAL(c->index))
	{
		xl_smgr_truncate xlrec;

		xlrec.blkno = keep;
		xlrec.rnode = c->index->rd_node;
		xlrec.flags = SMGR_TRUNCATE_HEAP;
		XLogBeginInsert();
		XLogRegisterData((char *) &xlrec, sizeof(xlrec));
		XLogFlush(XLogInsert(RM_SMGR_ID, XLOG_SMGR_TRUNCATE | XLR_SPECIAL_REL_UPDATE));
	}
	smgrtruncate(RelationGetSmgr(c->index), &fork, 1, &keep);
	c->pages_freed += nblocks - keep;
}

/* Drop the dead slots at the end: the stream ends with its last live entry. */
static void
trim_dead_tail(Compaction *c)
{
	while (c->count > 0 && c->slots[c->count - 1].dead)
		c->count--;
	if (c->count > 0)
		c->slots[c->count - 1].filler = 0;	/* past the new end */
	c->end = c->count > 0 ? c->slots[c->count - 1].position + c->slots[c->count - 1].size : 0;
	c->back = Min(c->back, c->count);
	/* slots past the end go; entries appended later reuse their numbers */
	for (int i = 0; i < c->cursor_count; i++)
		c->cursors[i].next = Min(c->cursors[i].next, c->count);
}

/*
 * One slice of compaction under the lock: moves until none is left (true)
 * or others wait for the lock (false), then the new stream end and the
 * truncation.
 */
static bool
compact_slice(Compaction *c)
{
	HybridMetaPageData meta = hybrid_read_meta(c->index);
	int64		hole;
	int64		source;
	bool		have;
	bool		finished = true;
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	if (meta.stream_end < c->end)
		elog(ERROR, "hybrid index \"%s\": stream end moved back during VACUUM",
			 RelationGetRelationName(c->index));
	collect(c, meta.stream_end);	/* entries inserted since */
	c->dim = meta.dim;
	c->back = c->count;
	have = next_move(c, &hole, &source);
	if (!have && (c->count == 0 || !c->slots[c->count - 1].dead) &&
		RelationGetNumberOfBlocks(c->index) <= blocks_for(c->end))
		return true;			/* nothing to move, free or truncate */

	/* copies must not number rows by a stream that changes under them */
	(void) update_meta(c, false);
	while (have)
	{
		CHECK_FOR_INTERRUPTS();
		move_entry(c, hole, source);
		if (c->moves % COMPACT_WAITER_CHECK_MOVES == 0 &&
			ms_since(start) >= COMPACT_MIN_HOLD_MS &&
			LockHasWaitersRelation(c->index, AccessExclusiveLock))
		{
			finished = false;
			break;
		}
		have = next_move(c, &hole, &source);
	}
	trim_dead_tail(c);
	truncate_tail(c, update_meta(c, true));
	c->longest_slice_ms = Max(c->longest_slice_ms, ms_since(start));
	return finished;
}

/* The index's AccessExclusiveLock, if it can be had within the timeout. */
static bool
lock_for_compaction(Relation index)
{
	for (int waited = 0;; waited += COMPACT_LOCK_RETRY_MS)
	{
		if (ConditionalLockRelation(index, AccessExclusiveLock))
			return true;
		if (waited >= COMPACT_LOCK_TIMEOUT_MS)
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 COMPACT_LOCK_RETRY_MS, WAIT_EVENT_VACUUM_TRUNCATE);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Whether meta shows enough dead entries, or pages past the stream end. */
static bool
worth_compacting(Relation index, const HybridMetaPageData *meta)
{
	return (meta->dead_entries > 0 &&
			meta->dead_entries * 100 >= meta->entries * COMPACT_MIN_DEAD_PERCENT) ||
		RelationGetNumberOfBlocks(index) > blocks_for(meta->stream_end);
}

/*
 * Compact the index's stream and truncate the pages freed; reports at
 * elevel (VACUUM's message level for indexes: DEBUG2).
 */
static void
hybrid_compact(Relation index, int elevel)
{
	HybridMetaPageData meta = hybrid_read_meta(index);
	Compaction	c;
	bool		finished = false;
	instr_time	start;

	if (!worth_compacting(index, &meta))
		return;
	INSTR_TIME_SET_CURRENT(start);
	memset(&c, 0, sizeof(c));
	c.index = index;
	c.slots = palloc(sizeof(StreamSlot));
	c.cursors = palloc(sizeof(HoleCursor));
	c.entry = palloc(ENTRY_ALIGNED_SIZE(VECTOR_MAX_DIM));
	/* read the headers before locking: only appends change them meanwhile */
	collect(&c, meta.stream_end);
	while (!finished)
	{
		if (!lock_for_compaction(index))
		{
			ereport(elevel,
					(errmsg("hybrid index \"%s\": compaction stopped: the index's lock was not available",
							RelationGetRelationName(index))));
			break;
		}
		finished = compact_slice(&c);
		UnlockRelation(index, AccessExclusiveLock);
	}
	ereport(elevel,
			(errmsg("hybrid index \"%s\": compaction moved " INT64_FORMAT " entries and freed %u pages in %.0f ms, holding the index's lock for at most %.0f ms at a time",
					RelationGetRelationName(index), c.moves, c.pages_freed, ms_since(start),
					c.longest_slice_ms)));
	pfree(c.slots);
	pfree(c.cursors);
	pfree(c.entry);
}

/* Transaction callback: compact the indexes deferred by a parallel VACUUM. */
static void
compact_deferred(XactEvent event, void *arg pg_attribute_unused())
{
	List	   *oids = deferred_indexes;
	ListCell   *cell;

	if (oids == NIL)
		return;
	deferred_indexes = NIL;
	if (event == XACT_EVENT_PRE_COMMIT)
	{
		foreach(cell, oids)
		{
			Relation	index = index_open(lfirst_oid(cell), RowExclusiveLock);

			hybrid_compact(index, deferred_elevel);
			index_close(index, RowExclusiveLock);
		}
	}
	list_free(oids);
}

/*
 * amvacuumcleanup's compaction: now, or at the transaction's pre-commit
 * when the VACUUM runs in parallel mode.
 */
void
hybrid_compact_after_vacuum(Relation index, int elevel)
{
	MemoryContext old;

	if (!IsInParallelMode())
	{
		hybrid_compact(index, elevel);
		return;
	}
	if (!deferral_registered)
	{
		RegisterXactCallback(compact_deferred, NULL);
		deferral_registered = true;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	deferred_indexes = lappend_oid(deferred_indexes, RelationGetRelid(index));
	MemoryContextSwitchTo(old);
	deferred_elevel = elevel;
}
