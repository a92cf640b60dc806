/*
 * hybrid_build.c
 *	  CREATE INDEX for the hybrid access method.
 *
 * The build writes the entry stream page by page outside shared buffers'
 * WAL path and logs the finished pages with log_newpage_range, as other
 * index builds do; progress shows in pg_stat_progress_create_index.
 */
#include "postgres.h"

#include "access/tableam.h"
#include "access/xloginsert.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "index/hybrid.h"

typedef struct BuildState
{
	Relation	index;
	ElementKind kind;
	int			dim;			/* 0 until known */
	PGAlignedBlock page;		/* stream page being filled */
	Size		page_used;		/* stream bytes in page */
	uint64		stream_end;
	int64		entries;
	int64		null_entries;
	MemoryContext tuple_context;
} BuildState;

void
hybrid_check_dims(Relation index, int index_dim, int value_dim)
{
	if (index_dim != 0 && index_dim != value_dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("hybrid index \"%s\" holds vectors of %d dimensions, not %d",
						RelationGetRelationName(index), index_dim, value_dim),
				 errhint("All vectors of one hybrid index must have the same number of dimensions; declare the column as %s(n).",
						 hybrid_kind_type_name(hybrid_index_kind(index)))));
}

/* Append the filled page to the relation. */
static void
flush_page(BuildState *state)
{
	Buffer		buffer = ReadBuffer(state->index, P_NEW);

	LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
	((PageHeader) state->page.data)->pd_lower = SizeOfPageHeaderData + state->page_used;
	memcpy(BufferGetPage(buffer), state->page.data, BLCKSZ);
	MarkBufferDirty(buffer);
	UnlockReleaseBuffer(buffer);
	PageInit((Page) state->page.data, BLCKSZ, 0);
	state->page_used = 0;
}

static void
build_write(BuildState *state, const void *data, Size len)
{
	Size		done = 0;

	while (done < len)
	{
		Size		piece = Min(len - done, STREAM_PAGE_BYTES - state->page_used);

		memcpy(state->page.data + SizeOfPageHeaderData + state->page_used,
			   (const char *) data + done, piece);
		state->page_used += piece;
		done += piece;
		if (state->page_used == STREAM_PAGE_BYTES)
			flush_page(state);
	}
	state->stream_end += len;
}

static void
build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			   bool tuple_is_alive pg_attribute_unused(), void *opaque)
{
	BuildState *state = (BuildState *) opaque;
	MemoryContext old = MemoryContextSwitchTo(state->tuple_context);
	EntryHeader header;
	char		pad[ENTRY_VALUES_OFFSET - sizeof(EntryHeader)] = {0};
	char		word_pad[sizeof(float)] = {0};
	EntryPayload payload = {0};

	memset(&header, 0, sizeof(header));
	header.tid = *tid;
	if (isnull[0])
	{
		header.flags = ENTRY_NULL;
		state->null_entries++;
	}
	else
	{
		payload = hybrid_entry_payload(index, state->kind, values[0]);
		hybrid_check_dims(index, state->dim, payload.dim);
		state->dim = payload.dim;
		header.dim = payload.words;
	}
	build_write(state, &header, sizeof(header));
	build_write(state, pad, sizeof(pad));
	build_write(state, payload.data, payload.bytes);
	build_write(state, word_pad, sizeof(float) * payload.words - payload.bytes);
	state->entries++;
	if (state->entries % 1024 == 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, state->entries);

	MemoryContextSwitchTo(old);
	MemoryContextReset(state->tuple_context);
}

static void
write_metapage(BuildState *state)
{
	Buffer		buffer = ReadBuffer(state->index, P_NEW);
	Page		page;
	HybridMetaPage meta;

	Assert(BufferGetBlockNumber(buffer) == HYBRID_METAPAGE_BLKNO);
	LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buffer);
	hybrid_init_metapage(page, state->dim);
	meta = HybridPageGetMeta(page);
	meta->stream_end = state->stream_end;
	meta->entries = state->entries;
	meta->null_entries = state->null_entries;
	MarkBufferDirty(buffer);
	UnlockReleaseBuffer(buffer);
}

/* The column's declared dimensions, or 0 for a plain vector column. */
static int
declared_dim(Relation index)
{
	int32		typmod = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;

	return typmod > 0 ? typmod : 0;
}

IndexBuildResult *
hybrid_build(Relation heap, Relation index, IndexInfo *info)
{
	BuildState	state;
	IndexBuildResult *result;
	double		heap_tuples;
	Buffer		meta_buffer;
	HybridMetaPage meta;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	memset(&state, 0, sizeof(state));
	state.index = index;
	state.kind = hybrid_index_kind(index);
	state.dim = declared_dim(index);
	state.tuple_context = AllocSetContextCreate(CurrentMemoryContext,
												"hybrid build tuple",
												ALLOCSET_DEFAULT_SIZES);
	PageInit((Page) state.page.data, BLCKSZ, 0);

	/* block 0 first, filled in at the end */
	write_metapage(&state);
	heap_tuples = table_index_build_scan(heap, index, info, true, true,
										 build_callback, &state, NULL);
	if (state.page_used > 0)
		flush_page(&state);

	meta_buffer = ReadBuffer(index, HYBRID_METAPAGE_BLKNO);
	LockBuffer(meta_buffer, BUFFER_LOCK_EXCLUSIVE);
	meta = HybridPageGetMeta(BufferGetPage(meta_buffer));
	meta->dim = state.dim;
	meta->stream_end = state.stream_end;
	meta->entries = state.entries;
	meta->null_entries = state.null_entries;
	MarkBufferDirty(meta_buffer);
	UnlockReleaseBuffer(meta_buffer);

	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0,
						  RelationGetNumberOfBlocks(index), true);

	MemoryContextDelete(state.tuple_context);
	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = heap_tuples;
	result->index_tuples = state.entries;
	return result;
}

/* The init fork of an unlogged index: just the metapage. */
void
hybrid_buildempty(Relation index)
{
	PGAlignedBlock page;

	hybrid_init_metapage((Page) page.data, declared_dim(index));
	PageSetChecksumInplace((Page) page.data, HYBRID_METAPAGE_BLKNO);
	smgrwrite(RelationGetSmgr(index), INIT_FORKNUM, HYBRID_METAPAGE_BLKNO, page.data, true);
	log_newpage(&(RelationGetSmgr(index))->smgr_rnode.node, INIT_FORKNUM,
				HYBRID_METAPAGE_BLKNO, (Page) page.data, true);
	smgrimmedsync(RelationGetSmgr(index), INIT_FORKNUM);
}
