/*
 * hybrid_stream.c
 *	  The metapage and the entry stream of a hybrid index: appending an
 *	  entry with generic WAL, and reading entries back in order.
 *
 * Appends hold the metapage's exclusive lock from first byte to last, so
 * entries never interleave.  Bytes are written past stream_end first and
 * the metapage's stream_end moves in the same WAL record as the last piece:
 * after a crash, a half-written entry lies beyond stream_end, invisible,
 * and the next append overwrites it.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/rel.h"

#include "index/hybrid.h"

void
hybrid_init_metapage(Page page, int dim)
{
	HybridMetaPage meta;

	PageInit(page, BLCKSZ, 0);
	meta = HybridPageGetMeta(page);
	memset(meta, 0, sizeof(HybridMetaPageData));
	meta->magic = HYBRID_MAGIC;
	meta->version = HYBRID_VERSION;
	meta->dim = dim;
	/*
	 * A random first generation: an index rebuilt in place (TRUNCATE of a
	 * table created in the same transaction keeps the relfilenode) must not
	 * look like the copy a cache holds of its previous contents.
	 */
	meta->generation = pg_prng_uint32(&pg_global_prng_state);
	meta->epoch = pg_prng_uint32(&pg_global_prng_state);
	((PageHeader) page)->pd_lower =
		((char *) meta + sizeof(HybridMetaPageData)) - (char *) page;
}

static void
check_meta(Relation index, HybridMetaPage meta)
{
	if (meta->magic != HYBRID_MAGIC || meta->version != HYBRID_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a valid hybrid index",
						RelationGetRelationName(index)),
				 errhint("REINDEX the index.")));
}

/* A snapshot of the metapage, read under a share lock. */
HybridMetaPageData
hybrid_read_meta(Relation index)
{
	Buffer		buffer = ReadBuffer(index, HYBRID_METAPAGE_BLKNO);
	HybridMetaPageData meta;

	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	meta = *HybridPageGetMeta(BufferGetPage(buffer));
	UnlockReleaseBuffer(buffer);
	check_meta(index, &meta);
	return meta;
}

/* Pin and exclusively lock the stream page for block, extending if needed. */
static Buffer
lock_stream_page(Relation index, BlockNumber block, bool *is_new)
{
	Buffer		buffer;

	*is_new = false;
	if (block >= RelationGetNumberOfBlocks(index))
	{
		LockRelationForExtension(index, ExclusiveLock);
		buffer = ReadBuffer(index, P_NEW);
		UnlockRelationForExtension(index, ExclusiveLock);
		if (BufferGetBlockNumber(buffer) != block)
			elog(ERROR, "hybrid index \"%s\" extended to block %u, expected %u",
				 RelationGetRelationName(index), BufferGetBlockNumber(buffer), block);
		*is_new = true;
	}
	else
		buffer = ReadBuffer(index, block);
	LockBuffer(buffer, BUFFER_LOCK_EXCLUSIVE);
	return buffer;
}

/*
 * Append one entry; payload == NULL records a NULL value.  Checks that a
 * non-NULL value has the index's dimension count (fixing it on the first).
 */
void
hybrid_append_entry(Relation index, ItemPointer tid, const EntryPayload *payload)
{
	Buffer		meta_buffer = ReadBuffer(index, HYBRID_METAPAGE_BLKNO);
	HybridMetaPage meta;
	int			words = payload ? payload->words : 0;
	Size		size = ENTRY_ALIGNED_SIZE(words);
	char	   *entry = palloc0(size);
	EntryHeader *header = (EntryHeader *) entry;
	uint64		position;
	Size		written = 0;

	LockBuffer(meta_buffer, BUFFER_LOCK_EXCLUSIVE);
	meta = HybridPageGetMeta(BufferGetPage(meta_buffer));
	check_meta(index, meta);
	/*
	 * The first value fixes the dimension count; so does the first after
	 * VACUUM has removed every value (a rolled-back first insert, say).
	 */
	if (payload && meta->entries - meta->dead_entries - meta->null_entries > 0)
		hybrid_check_dims(index, meta->dim, payload->dim);

	header->tid = *tid;
	header->flags = payload ? 0 : ENTRY_NULL;
	header->dim = words;
	if (payload)
		memcpy(entry + ENTRY_VALUES_OFFSET, payload->data, payload->bytes);

	position = meta->stream_end;
	while (written < size)
	{
		BlockNumber block = stream_block(position + written);
		Size		offset = stream_offset(position + written);
		Size		piece = Min(size - written, BLCKSZ - offset);
		bool		is_new;
		bool		last = (written + piece == size);
		Buffer		buffer = lock_stream_page(index, block, &is_new);
		GenericXLogState *state = GenericXLogStart(index);
		Page		page = GenericXLogRegisterBuffer(state, buffer,
													 is_new ? GENERIC_XLOG_FULL_IMAGE : 0);

		/* a page extended but never written before a crash is all zeros */
		if (is_new || PageIsNew(page))
			PageInit(page, BLCKSZ, 0);
		memcpy((char *) page + offset, entry + written, piece);
		if (((PageHeader) page)->pd_lower < offset + piece)
			((PageHeader) page)->pd_lower = offset + piece;

		if (last)
		{
			HybridMetaPage wal_meta =
				HybridPageGetMeta(GenericXLogRegisterBuffer(state, meta_buffer, 0));

			wal_meta->stream_end = position + size;
			wal_meta->entries++;
			if (!payload)
				wal_meta->null_entries++;
			else if (wal_meta->dim != payload->dim)
			{
				/* a new dimension count numbers rows anew */
				wal_meta->dim = payload->dim;
				wal_meta->epoch = pg_prng_uint32(&pg_global_prng_state);
			}
		}
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buffer);
		written += piece;
	}
	UnlockReleaseBuffer(meta_buffer);
	pfree(entry);
}

/* Copy len bytes of stream starting at position into dest. */
void
hybrid_stream_read(Relation index, uint64 position, void *dest, Size len)
{
	Size		done = 0;

	while (done < len)
	{
		Size		offset = stream_offset(position + done);
		Size		piece = Min(len - done, BLCKSZ - offset);
		Buffer		buffer = ReadBuffer(index, stream_block(position + done));

		LockBuffer(buffer, BUFFER_LOCK_SHARE);
		memcpy((char *) dest + done, (char *) BufferGetPage(buffer) + offset, piece);
		UnlockReleaseBuffer(buffer);
		done += piece;
	}
}

void
stream_reader_begin(StreamReader *reader, Relation index, uint64 start, uint64 end)
{
	reader->index = index;
	reader->position = start;
	reader->end = end;
	reader->block = InvalidBlockNumber;
	reader->strategy = GetAccessStrategy(BAS_BULKREAD);
}

/*
 * Copy bytes from the reader's position.  Each page is copied once, under
 * one share lock, and entries are read from the copy: bytes below the
 * stream end only ever change by VACUUM's dead flags (its compaction's
 * moves take a lock no reader shares), and the copy holds them as they
 * were at one instant.
 */
static void
reader_copy(StreamReader *reader, void *dest, Size len)
{
	Size		done = 0;

	while (done < len)
	{
		BlockNumber block = stream_block(reader->position);
		Size		offset = stream_offset(reader->position);
		Size		piece = Min(len - done, BLCKSZ - offset);

		if (block != reader->block)
		{
			Buffer		buffer = ReadBufferExtended(reader->index, MAIN_FORKNUM, block,
													RBM_NORMAL, reader->strategy);

			LockBuffer(buffer, BUFFER_LOCK_SHARE);
			memcpy(reader->page.data, BufferGetPage(buffer), BLCKSZ);
			UnlockReleaseBuffer(buffer);
			reader->block = block;
		}
		memcpy((char *) dest + done, reader->page.data + offset, piece);
		reader->position += piece;
		done += piece;
	}
}

/*
 * Read the next entry: its header, its values into values (room for the
 * index's dim; NULL skips them, for passes that need the headers alone)
 * and where it starts.  Returns false at the end.
 */
bool
stream_reader_next(StreamReader *reader, EntryHeader *header, float *values,
				   uint64 *entry_position)
{
	if (reader->position >= reader->end)
		return false;
	CHECK_FOR_INTERRUPTS();
	*entry_position = reader->position;
	reader_copy(reader, header, sizeof(EntryHeader));
	reader->position = *entry_position + ENTRY_VALUES_OFFSET;
	if (header->dim > VECTOR_MAX_DIM ||
		*entry_position + ENTRY_ALIGNED_SIZE(header->dim) > reader->end)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("hybrid index \"%s\" has a malformed entry at block %u, offset %zu (stream position " UINT64_FORMAT ")",
						RelationGetRelationName(reader->index), stream_block(*entry_position),
						stream_offset(*entry_position), *entry_position),
				 errdetail("Its header gives %u dimensions; the stream ends at " UINT64_FORMAT ".",
						   header->dim, reader->end)));
	if (values)
		reader_copy(reader, values, sizeof(float) * header->dim);
	else
		reader->position += sizeof(float) * header->dim;
	return true;
}
