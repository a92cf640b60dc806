/*
 * hybrid_verify.c
 *	  hybridsearch_verify(index): checks a hybrid index against its pages
 *	  and its table, as amcheck's bt_index_parent_check(heapallindexed)
 *	  does for btree.
 *
 * The passes, each raising ERRCODE_INDEX_CORRUPTED at the first problem:
 *	1. the metapage: magic, version, dimension count, counters, stream end;
 *	2. the stream pages' headers up to the stream end, and the pages past
 *	   it: none in normal operation, since appends extend the relation
 *	   page by page and VACUUM's compaction truncates what it frees.  A
 *	   crash in the middle of an append leaves at most the pages of one
 *	   entry; one between compaction's new stream end and its truncation
 *	   can leave more.  They hold nothing the stream counts and the next
 *	   VACUUM truncates them: more than an append can leave gets a NOTICE,
 *	   not an error;
 *	3. the entry stream in order: headers in bounds, known flags, live
 *	   entries of the index's dimension count with finite values (for bit
 *	   and sparsevec: a well-formed value of the index's dimensions) and a
 *	   valid heap TID, no two live entries for one TID, and the counts the
 *	   metapage keeps.  Live entries go into a hash table by TID;
 *	4. the table, through table_index_build_scan() with a fresh MVCC
 *	   snapshot, which evaluates index expressions and predicates as CREATE
 *	   INDEX does and reports a HOT chain by its root TID: every tuple the
 *	   snapshot sees must have a live entry with a bit-identical value (or
 *	   both NULL);
 *	5. the live entries the scan did not report, which belong to tuples the
 *	   snapshot does not see: their line pointers must still be in use and
 *	   not heap-only tuples, since VACUUM marks entries dead before it frees
 *	   their slots, and entries always point at the root of a HOT chain.
 *
 * Locks: ShareLock on the table, as bt_index_parent_check takes.  It keeps
 * writers and VACUUM out, so the metapage, the stream and the table hold
 * still during the check and a missing entry cannot be one being appended.
 * Memory: one hash entry (about 40 bytes) per live index entry.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include <math.h>

#include "index/hybrid.h"

PG_FUNCTION_INFO_V1(hybridsearch_verify);

/* A live index entry, by heap TID. */
typedef struct LiveEntry
{
	ItemPointerData tid;		/* hash key */
	bool		seen;			/* reported by the table scan */
	uint8		flags;
	uint16		dim;
	uint64		position;		/* where the entry starts in the stream */
} LiveEntry;

typedef struct VerifyState
{
	Relation	heap;
	Relation	index;
	ElementKind kind;
	HybridMetaPageData meta;
	HTAB	   *live;			/* LiveEntry by heap TID */
	int64		entries;
	int64		dead_entries;
	int64		null_entries;	/* live ones */
	int64		heap_tuples;
	float	   *values;			/* room for VECTOR_MAX_DIM values */
	MemoryContext tuple_context;
} VerifyState;

/* "block B, offset O" of a stream position, for messages. */
static char *
where(uint64 position)
{
	return psprintf("block %u, offset %zu", stream_block(position), stream_offset(position));
}

/* Raise "index X is corrupted: <what>". */
static void pg_attribute_noreturn()
corrupted(VerifyState *state, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INDEX_CORRUPTED),
			 errmsg("hybrid index \"%s\" is corrupted: %s",
					RelationGetRelationName(state->index), what),
			 errhint("REINDEX the index.")));
	pg_unreachable();
}

static void
check_metapage(VerifyState *state)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(state->index);
	int32		typmod = TupleDescAttr(RelationGetDescr(state->index), 0)->atttypmod;
	HybridMetaPageData *meta = &state->meta;
	Buffer		buffer;
	bool		is_new;

	if (nblocks == 0)
		corrupted(state, "it has no metapage");
	buffer = ReadBuffer(state->index, HYBRID_METAPAGE_BLKNO);
	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	is_new = PageIsNew(BufferGetPage(buffer));
	*meta = *HybridPageGetMeta(BufferGetPage(buffer));
	UnlockReleaseBuffer(buffer);

	if (is_new)
		corrupted(state, "the metapage (block 0) is not initialized");
	if (meta->magic != HYBRID_MAGIC || meta->version != HYBRID_VERSION)
		corrupted(state, psprintf("the metapage has magic 0x%08x and version %u, not 0x%08x and %u",
								  meta->magic, meta->version, HYBRID_MAGIC, HYBRID_VERSION));
	if (meta->dim < 0 || meta->dim > hybrid_kind_max_dim(state->kind))
		corrupted(state, psprintf("the metapage gives %d dimensions", meta->dim));
	if (typmod > 0 && meta->dim != typmod)
		corrupted(state, psprintf("the metapage gives %d dimensions, the column's type %d",
								  meta->dim, typmod));
	if (meta->entries < 0 || meta->dead_entries < 0 || meta->null_entries < 0 ||
		meta->dead_entries + meta->null_entries > meta->entries)
		corrupted(state, psprintf("the metapage counts " INT64_FORMAT " entries, " INT64_FORMAT
								  " dead and " INT64_FORMAT " NULL",
								  meta->entries, meta->dead_entries, meta->null_entries));
	if (meta->stream_end > (uint64) (nblocks - 1) * STREAM_PAGE_BYTES)
		corrupted(state, psprintf("the metapage's stream end " UINT64_FORMAT
								  " lies beyond the index's %u blocks",
								  meta->stream_end, nblocks));
}

/* Every page up to the stream end is initialized and covers its bytes. */
static void
check_stream_pages(VerifyState *state)
{
	uint64		end = state->meta.stream_end;
	BlockNumber last = end > 0 ? stream_block(end - 1) : HYBRID_METAPAGE_BLKNO;

	for (BlockNumber block = HYBRID_FIRST_STREAM_BLKNO; block <= last; block++)
	{
		Buffer		buffer = ReadBuffer(state->index, block);
		PageHeader	page;
		Size		needed = block < last ? BLCKSZ : stream_offset(end - 1) + 1;
		bool		bad;

		CHECK_FOR_INTERRUPTS();
		LockBuffer(buffer, BUFFER_LOCK_SHARE);
		page = (PageHeader) BufferGetPage(buffer);
		bad = PageIsNew(page) || page->pd_lower < needed || page->pd_lower > BLCKSZ ||
			page->pd_special != BLCKSZ;
		UnlockReleaseBuffer(buffer);
		if (bad)
			corrupted(state, psprintf("stream page %u has a bad page header", block));
	}
}

/* A live vector entry: the index's dimension count, finite values. */
static void
check_vector_entry(VerifyState *state, EntryHeader *header, uint64 position)
{
	if (!(header->flags & ENTRY_NULL) && header->dim != state->meta.dim)
		corrupted(state, psprintf("the live entry at %s has %u dimensions, the index %d",
								  where(position), header->dim, state->meta.dim));
	for (int i = 0; i < header->dim; i++)
		if (!isfinite(state->values[i]))
			corrupted(state, psprintf("the live entry at %s holds a non-finite value in dimension %d",
									  where(position), i + 1));
}

/* A live non-NULL entry of another kind: a well-formed value of the index's dimensions. */
static void
check_value_entry(VerifyState *state, EntryHeader *header, uint64 position)
{
	if (!(header->flags & ENTRY_NULL) &&
		!hybrid_payload_valid(state->kind, state->values, header->dim, state->meta.dim))
		corrupted(state, psprintf("the live entry at %s does not hold a %s value of %d dimensions in its %u words",
								  where(position), hybrid_kind_type_name(state->kind),
								  state->meta.dim, header->dim));
}

/* Pages past the stream end: leftovers of an interrupted append or VACUUM. */
static void
check_tail_pages(VerifyState *state)
{
	uint64		end = state->meta.stream_end;
	BlockNumber needed = end > 0 ? stream_block(end - 1) + 1 : HYBRID_FIRST_STREAM_BLKNO;
	BlockNumber nblocks = RelationGetNumberOfBlocks(state->index);
	BlockNumber append_slack = stream_block(ENTRY_ALIGNED_SIZE(VECTOR_MAX_DIM)) + 1;

	if (nblocks > needed + append_slack)
		ereport(NOTICE,
				(errmsg("hybrid index \"%s\" has %u pages past its stream end",
						RelationGetRelationName(state->index), nblocks - needed),
				 errdetail("A VACUUM was interrupted before it truncated them; they hold no entry."),
				 errhint("The next VACUUM of the table truncates them.")));
}

static void
check_entry(VerifyState *state, EntryHeader *header, uint64 position)
{
	BlockNumber heap_block = ItemPointerGetBlockNumberNoCheck(&header->tid);
	OffsetNumber heap_offset = ItemPointerGetOffsetNumberNoCheck(&header->tid);

	if ((header->flags & ~(ENTRY_DEAD | ENTRY_NULL)) != 0 || header->unused != 0)
		corrupted(state, psprintf("the entry at %s has flags 0x%02x and reserved byte 0x%02x",
								  where(position), header->flags, header->unused));
	if ((header->flags & ENTRY_NULL) && header->dim != 0)
		corrupted(state, psprintf("the NULL entry at %s holds %u values",
								  where(position), header->dim));
	if (header->flags & ENTRY_DEAD)
		return;
	if (hybrid_kind_is_dense(state->kind))
		check_vector_entry(state, header, position);
	else
		check_value_entry(state, header, position);
	if (heap_offset == InvalidOffsetNumber || heap_offset > MaxHeapTuplesPerPage)
		corrupted(state, psprintf("the live entry at %s points to the invalid heap TID (%u,%u)",
								  where(position), heap_block, heap_offset));
}

static void
remember_live(VerifyState *state, EntryHeader *header, uint64 position)
{
	bool		found;
	LiveEntry  *entry = hash_search(state->live, &header->tid, HASH_ENTER, &found);

	if (found)
		corrupted(state, psprintf("the live entries at %s and at %s both point to heap TID (%u,%u)",
								  where(entry->position), where(position),
								  ItemPointerGetBlockNumber(&header->tid),
								  ItemPointerGetOffsetNumber(&header->tid)));
	entry->seen = false;
	entry->flags = header->flags;
	entry->dim = header->dim;
	entry->position = position;
}

static void
check_stream(VerifyState *state)
{
	StreamReader reader;
	EntryHeader header;
	uint64		position;
	HybridMetaPageData *meta = &state->meta;

	stream_reader_begin(&reader, state->index, 0, meta->stream_end);
	while (stream_reader_next(&reader, &header, state->values, &position))
	{
		check_entry(state, &header, position);
		state->entries++;
		if (header.flags & ENTRY_DEAD)
			state->dead_entries++;
		else
		{
			if (header.flags & ENTRY_NULL)
				state->null_entries++;
			remember_live(state, &header, position);
		}
	}
	if (state->entries != meta->entries || state->dead_entries != meta->dead_entries ||
		state->null_entries != meta->null_entries)
		corrupted(state, psprintf("the stream holds " INT64_FORMAT " entries, " INT64_FORMAT
								  " dead and " INT64_FORMAT " live NULL, the metapage counts "
								  INT64_FORMAT ", " INT64_FORMAT " and " INT64_FORMAT,
								  state->entries, state->dead_entries, state->null_entries,
								  meta->entries, meta->dead_entries, meta->null_entries));
}

/* table_index_build_scan() callback: one tuple the snapshot sees. */
static void
heap_tuple_callback(Relation index pg_attribute_unused(), ItemPointer tid, Datum *values,
					bool *isnull, bool tuple_is_alive pg_attribute_unused(), void *opaque)
{
	VerifyState *state = (VerifyState *) opaque;
	LiveEntry  *entry = hash_search(state->live, tid, HASH_FIND, NULL);
	MemoryContext old;
	EntryPayload payload;

	state->heap_tuples++;
	if (entry == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("hybrid index \"%s\" is corrupted: heap tuple (%u,%u) of table \"%s\" has no live entry",
						RelationGetRelationName(state->index),
						ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid),
						RelationGetRelationName(state->heap)),
				 errhint("REINDEX the index.")));
	if (entry->seen)
		elog(ERROR, "heap tuple (%u,%u) reported twice by the table scan",
			 ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid));
	entry->seen = true;
	if (isnull[0] != ((entry->flags & ENTRY_NULL) != 0))
		corrupted(state, psprintf("the entry at %s is %sNULL, the value of heap tuple (%u,%u) is %sNULL",
								  where(entry->position), isnull[0] ? "not " : "",
								  ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid),
								  isnull[0] ? "" : "not "));
	if (isnull[0])
		return;

	old = MemoryContextSwitchTo(state->tuple_context);
	payload = hybrid_entry_payload(state->index, state->kind, values[0]);
	if (payload.words == entry->dim)
		hybrid_stream_read(state->index, entry->position + ENTRY_VALUES_OFFSET,
						   state->values, payload.bytes);
	if (payload.words != entry->dim ||
		memcmp(state->values, payload.data, payload.bytes) != 0)
		corrupted(state, psprintf("the entry at %s holds another vector than heap tuple (%u,%u)",
								  where(entry->position), ItemPointerGetBlockNumber(tid),
								  ItemPointerGetOffsetNumber(tid)));
	MemoryContextSwitchTo(old);
	MemoryContextReset(state->tuple_context);
}

/*
 * Scan the table as CREATE INDEX CONCURRENTLY's first scan does, with a
 * fresh MVCC snapshot, as the table's owner in a restricted security
 * context: index expressions are user code, as in VACUUM and REINDEX.
 */
static void
check_heap(VerifyState *state)
{
	IndexInfo  *info = BuildIndexInfo(state->index);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TableScanDesc scan;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	/* like amcheck: a snapshot older than the index may see other values */
	if (state->index->rd_index->indcheckxmin &&
		!TransactionIdPrecedes(HeapTupleHeaderGetXmin(state->index->rd_indextuple->t_data),
							   snapshot->xmin))
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("hybrid index \"%s\" cannot be verified yet",
						RelationGetRelationName(state->index)),
				 errdetail("Transactions older than the index are still running.")));

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(state->heap->rd_rel->relowner,
						   save_sec_context | SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();

	info->ii_Concurrent = true;
	scan = table_beginscan_strat(state->heap, snapshot, 0, NULL, true, true);
	table_index_build_scan(state->heap, state->index, info, true, false,
						   heap_tuple_callback, state, scan);

	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	UnregisterSnapshot(snapshot);
}

static int
position_order(const void *a, const void *b)
{
	uint64		x = (*(LiveEntry *const *) a)->position;
	uint64		y = (*(LiveEntry *const *) b)->position;

	return (x > y) - (x < y);
}

/* Why the line pointer a live entry points to cannot be its tuple's, or NULL. */
static const char *
heap_slot_problem(Relation heap, BlockNumber nblocks, ItemPointer tid)
{
	BlockNumber block = ItemPointerGetBlockNumber(tid);
	OffsetNumber offset = ItemPointerGetOffsetNumber(tid);
	const char *problem = NULL;
	Buffer		buffer;
	Page		page;

	if (block >= nblocks)
		return psprintf("a block beyond the table's %u", nblocks);
	buffer = ReadBufferExtended(heap, MAIN_FORKNUM, block, RBM_NORMAL, NULL);
	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buffer);
	if (offset > PageGetMaxOffsetNumber(page))
		problem = "a line pointer beyond the page's last";
	else
	{
		ItemId		item = PageGetItemId(page, offset);

		if (!ItemIdIsUsed(item))
			problem = "an unused line pointer";
		else if (ItemIdIsNormal(item) &&
				 HeapTupleHeaderIsHeapOnly((HeapTupleHeader) PageGetItem(page, item)))
			problem = "a heap-only tuple";
	}
	UnlockReleaseBuffer(buffer);
	return problem;
}

static void
check_unseen_entries(VerifyState *state)
{
	HASH_SEQ_STATUS status;
	LiveEntry  *entry;
	LiveEntry **unseen = palloc(sizeof(LiveEntry *) * Max(hash_get_num_entries(state->live), 1));
	int64		count = 0;
	BlockNumber nblocks = RelationGetNumberOfBlocks(state->heap);

	hash_seq_init(&status, state->live);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (!entry->seen)
			unseen[count++] = entry;
	qsort(unseen, count, sizeof(LiveEntry *), position_order);
	for (int64 i = 0; i < count; i++)
	{
		const char *problem = heap_slot_problem(state->heap, nblocks, &unseen[i]->tid);

		CHECK_FOR_INTERRUPTS();
		if (problem)
			corrupted(state, psprintf("the live entry at %s points to heap TID (%u,%u), %s",
									  where(unseen[i]->position),
									  ItemPointerGetBlockNumber(&unseen[i]->tid),
									  ItemPointerGetOffsetNumber(&unseen[i]->tid), problem));
	}
	pfree(unseen);
}

/*
 * Open the index's table and the index, checking the caller owns the table
 * before taking the table's lock.
 */
static void
open_relations(Oid index_oid, Relation *heap, Relation *index)
{
	Oid			heap_oid = IndexGetRelation(index_oid, true);

	if (!OidIsValid(heap_oid))
	{
		char	   *name = get_rel_name(index_oid);

		if (name == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation with OID %u does not exist", index_oid)));
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an index", name)));
	}
	if (!pg_class_ownercheck(heap_oid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(get_rel_relkind(heap_oid)),
					   get_rel_name(heap_oid));

	*heap = table_open(heap_oid, ShareLock);
	*index = index_open(index_oid, AccessShareLock);
	if (IndexGetRelation(index_oid, false) != heap_oid)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("could not open the table of index \"%s\"",
						RelationGetRelationName(*index))));
	hybrid_require_index(*index, "Verify the index of each partition.");
	if (RELATION_IS_OTHER_TEMP(*index))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot verify temporary indexes of other sessions")));
	if (!(*index)->rd_index->indisvalid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("hybrid index \"%s\" is not valid", RelationGetRelationName(*index)),
				 errdetail("A failed CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY leaves an index invalid."),
				 errhint("REINDEX the index.")));
}

Datum
hybridsearch_verify(PG_FUNCTION_ARGS)
{
	VerifyState state;
	HASHCTL		hash_ctl;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	memset(&state, 0, sizeof(state));
	open_relations(PG_GETARG_OID(0), &state.heap, &state.index);
	state.kind = hybrid_index_kind(state.index);
	state.values = palloc(sizeof(float) * VECTOR_MAX_DIM);
	state.tuple_context = AllocSetContextCreate(CurrentMemoryContext, "hybrid verify tuple",
												ALLOCSET_DEFAULT_SIZES);
	hash_ctl.keysize = sizeof(ItemPointerData);
	hash_ctl.entrysize = sizeof(LiveEntry);
	hash_ctl.hcxt = CurrentMemoryContext;
	state.live = hash_create("hybrid verify entries", 1024, &hash_ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	check_metapage(&state);
	check_stream_pages(&state);
	check_tail_pages(&state);
	check_stream(&state);
	check_heap(&state);
	check_unseen_entries(&state);

	values[0] = Int64GetDatum(state.entries);
	values[1] = Int64GetDatum(state.entries - state.dead_entries);
	values[2] = Int64GetDatum(state.dead_entries);
	values[3] = Int64GetDatum(state.null_entries);
	values[4] = Int64GetDatum(state.heap_tuples);

	hash_destroy(state.live);
	MemoryContextDelete(state.tuple_context);
	index_close(state.index, AccessShareLock);
	table_close(state.heap, ShareLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
