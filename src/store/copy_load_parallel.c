/*
 * copy_load_parallel.c
 *	  The first load of a large copy on several threads (see copy_load.c).
 *
 * Possible when every entry of the stream has the same size: then entry i
 * starts at byte i * size and holds row i.  Each thread takes a range of
 * rows, reads the blocks holding them straight from the index's files with
 * 1 MB preads (the index's dirty buffers are written out first, so the
 * files hold every byte below the metapage's stream end), verifies their
 * checksums, and writes its rows into the copy.  A thread that meets an
 * entry of another size stops, and the load starts over on the buffer
 * manager's path.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "access/xlog.h"
#include "common/relpath.h"
#include "storage/bufmgr.h"
#include "storage/checksum.h"
#include "utils/rel.h"

#include "store/copy_load.h"
#include "threads.h"

#define PARALLEL_LOAD_MIN_ROWS	16384
#define ROWS_PER_LOAD_THREAD	8192
#define CHUNK_BLOCKS			128		/* one pread: 1 MB */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE		23		/* Linux 5.14 */
#endif

typedef enum SliceOutcome
{
	SLICE_OK = 0,
	SLICE_NOT_UNIFORM,			/* an entry of another size: load otherwise */
	SLICE_READ_FAILED,
	SLICE_CHECKSUM_FAILED
} SliceOutcome;

/* What one thread loads and what it found. */
typedef struct LoadSlice
{
	const CopyLayout *layout;
	int			dim;
	bool		half;
	bool		checksums;
	char	  **extents;		/* every row extent's address */
	const int  *files;			/* the index's segment files */
	int64		first_row;
	int64		end_row;
	/* the outcome */
	SliceOutcome outcome;
	int			read_errno;
	BlockNumber bad_block;
	RowBounds	stats;
} LoadSlice;

/* The blocks a thread holds in memory: [first, first + count). */
typedef struct BlockChunk
{
	char	   *data;
	BlockNumber first;
	int			count;
} BlockChunk;

/* Read blocks from block on (up to last) into the chunk; false on failure. */
static bool
read_chunk(LoadSlice *slice, BlockChunk *chunk, BlockNumber block, BlockNumber last)
{
	int			segment = block / RELSEG_SIZE;
	BlockNumber segment_end = (BlockNumber) (segment + 1) * RELSEG_SIZE;
	int			count = (int) Min(Min((BlockNumber) CHUNK_BLOCKS, last - block + 1),
								  segment_end - block);
	Size		wanted = (Size) count * BLCKSZ;
	Size		done = 0;
	off_t		offset = (off_t) (block % RELSEG_SIZE) * BLCKSZ;

	while (done < wanted)
	{
		ssize_t		got = pread(slice->files[segment], chunk->data + done, wanted - done,
								offset + done);

		if (got <= 0)
		{
			slice->read_errno = got < 0 ? errno : 0;
			slice->bad_block = block + done / BLCKSZ;
			slice->outcome = SLICE_READ_FAILED;
			return false;
		}
		done += got;
	}
	for (int i = 0; slice->checksums && i < count; i++)
	{
		char	   *page = chunk->data + (Size) i * BLCKSZ;

		if (!PageIsNew((Page) page) &&
			pg_checksum_page(page, block + i) != ((PageHeader) page)->pd_checksum)
		{
			slice->bad_block = block + i;
			slice->outcome = SLICE_CHECKSUM_FAILED;
			return false;
		}
	}
	chunk->first = block;
	chunk->count = count;
	return true;
}

/*
 * The bytes [position, position + len) of the stream: a pointer into the
 * chunk when they lie in one page, else assembled in spare.  NULL when a
 * read failed.
 */
static const char *
stream_bytes(LoadSlice *slice, BlockChunk *chunk, uint64 position, Size len, char *spare,
			 BlockNumber last)
{
	Size		done = 0;
	const char *result = NULL;

	while (done < len)
	{
		BlockNumber block = stream_block(position + done);
		Size		offset = stream_offset(position + done);
		Size		piece = Min(len - done, BLCKSZ - offset);
		const char *source;

		if (block < chunk->first || block >= chunk->first + chunk->count)
			if (!read_chunk(slice, chunk, block, last))
				return NULL;
		source = chunk->data + (Size) (block - chunk->first) * BLCKSZ + offset;
		if (piece == len)
			return source;		/* all in one page */
		memcpy(spare + done, source, piece);
		result = spare;
		done += piece;
	}
	return result;
}

/*
 * Fault in a thread's share of the copy in one call: the kernel then zeroes
 * and maps the pages without a trap per page.  An older kernel refuses,
 * and the writes fault them in instead.
 */
static void
populate_slice(const LoadSlice *slice)
{
	int64		per_extent = slice->layout->rows_per_extent;

	for (int64 e = slice->first_row / per_extent; e <= (slice->end_row - 1) / per_extent; e++)
		(void) madvise(slice->extents[e], STORE_EXTENT_BYTES, MADV_POPULATE_WRITE);
}

/* A load thread: pure arithmetic and preads, no PostgreSQL calls. */
static void *
load_slice(void *arg)
{
	LoadSlice  *slice = (LoadSlice *) arg;
	Size		entry_size = ENTRY_ALIGNED_SIZE(slice->dim);
	BlockNumber last = stream_block((uint64) slice->end_row * entry_size - 1);
	BlockChunk	chunk = {malloc((Size) CHUNK_BLOCKS * BLCKSZ), InvalidBlockNumber, 0};
	char	   *spare = malloc(entry_size);
	int64		per_extent = slice->layout->rows_per_extent;

	if (chunk.data == NULL || spare == NULL)
	{
		slice->outcome = SLICE_READ_FAILED;
		slice->read_errno = ENOMEM;
	}
	else if (slice->end_row > slice->first_row)
		populate_slice(slice);
	for (int64 row = slice->first_row; row < slice->end_row && slice->outcome == SLICE_OK; row++)
	{
		uint64		position = (uint64) row * entry_size;
		const char *entry = stream_bytes(slice, &chunk, position, entry_size, spare, last);
		EntryHeader header;

		if (entry == NULL)
			break;
		memcpy(&header, entry, sizeof(EntryHeader));
		if (header.dim != slice->dim || (header.flags & ENTRY_NULL))
		{
			slice->outcome = SLICE_NOT_UNIFORM;
			break;
		}
		write_row(slice->layout, slice->dim, slice->half, slice->extents[row / per_extent],
				  row % per_extent, (const float *) (entry + ENTRY_VALUES_OFFSET), &header,
				  position, &slice->stats);
	}
	free(chunk.data);
	free(spare);
	return NULL;
}

/* Open the index's segment files holding blocks [0, blocks). */
static int *
open_segments(Relation index, BlockNumber blocks, int *count)
{
	char	   *path = relpathperm(index->rd_node, MAIN_FORKNUM);
	int			segments = (int) ((blocks + RELSEG_SIZE - 1) / RELSEG_SIZE);
	int		   *files = palloc(sizeof(int) * segments);

	for (int s = 0; s < segments; s++)
	{
		char	   *name = s == 0 ? pstrdup(path) : psprintf("%s.%d", path, s);

		files[s] = open(name, O_RDONLY | PG_BINARY);
		if (files[s] < 0)
		{
			int			saved = errno;

			while (--s >= 0)
				close(files[s]);
			errno = saved;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open file \"%s\": %m", name)));
		}
		pfree(name);
	}
	*count = segments;
	return files;
}

static void
report_slice_failure(Relation index, const LoadSlice *slice)
{
	if (slice->outcome == SLICE_CHECKSUM_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid page in block %u of hybrid index \"%s\": checksum mismatch",
						slice->bad_block, RelationGetRelationName(index))));
	errno = slice->read_errno;
	ereport(ERROR,
			(errcode_for_file_access(),
			 errmsg("could not read block %u of hybrid index \"%s\": %s", slice->bad_block,
					RelationGetRelationName(index),
					slice->read_errno ? strerror(slice->read_errno) : "unexpected end of file")));
}

static bool
parallel_load_applies(Relation index, const HybridMetaPageData *meta)
{
	return meta->dim > 0 && meta->entries >= PARALLEL_LOAD_MIN_ROWS &&
		meta->stream_end == (uint64) meta->entries * ENTRY_ALIGNED_SIZE(meta->dim) &&
		!RelationUsesLocalBuffers(index) && !RecoveryInProgress();
}

/* Reserve the extents, and list their addresses; false if the arena cannot. */
static char **
reserve_rows(StoreArena *arena, int slot, int64 rows, const CopyLayout *layout)
{
	CopyHeader *header = &arena->copies[slot];
	int64		needed = extents_for(rows, layout->rows_per_extent) - header->row_extents;
	char	  **extents;
	int64		n = 0;
	bool		ok;

	arena_lock(arena, true);
	ok = needed <= 0 || arena_grow(arena, slot, needed, 0);
	arena_unlock(arena);
	if (!ok)
		return NULL;
	extents = palloc(sizeof(char *) * Max(header->row_extents, 1));
	for (int64 e = header->first_row_extent; e >= 0; e = arena->next_extent[e])
		extents[n++] = arena_extent(arena, e);
	return extents;
}

/*
 * Load a new copy (nothing loaded yet) on several threads when its stream
 * allows.  False when it does not apply or found entries of another size:
 * the caller then loads through copy_append.  Errors are raised.
 */
bool
copy_load_parallel(StoreArena *arena, int slot, Relation index, const HybridMetaPageData *meta)
{
	CopyHeader *header = &arena->copies[slot];
	CopyLayout	layout;
	int64		rows = meta->entries;
	int			threads = work_threads(rows, ROWS_PER_LOAD_THREAD);
	LoadSlice  *slices;
	char	  **extents;
	int		   *files;
	int			file_count;
	RowBounds	stats = {0};
	SliceOutcome outcome = SLICE_OK;
	LoadSlice  *failed = NULL;

	if (!parallel_load_applies(index, meta) || header->loaded_to != 0)
		return false;
	copy_layout(header->dim, header->key.half != 0, &layout);
	if ((extents = reserve_rows(arena, slot, rows, &layout)) == NULL)
		return false;
	FlushRelationBuffers(index);
	files = open_segments(index, stream_block(meta->stream_end - 1) + 1, &file_count);
	slices = palloc0(sizeof(LoadSlice) * threads);
	for (int t = 0; t < threads; t++)
	{
		slices[t].layout = &layout;
		slices[t].dim = header->dim;
		slices[t].half = header->key.half != 0;
		slices[t].checksums = DataChecksumsEnabled();
		slices[t].extents = extents;
		slices[t].files = files;
		slices[t].first_row = rows * t / threads;
		slices[t].end_row = rows * (t + 1) / threads;
	}
	run_on_threads(load_slice, slices, sizeof(LoadSlice), threads);
	for (int f = 0; f < file_count; f++)
		close(files[f]);
	for (int t = 0; t < threads; t++)
	{
		if (slices[t].outcome > outcome)
		{
			outcome = slices[t].outcome;
			failed = &slices[t];
		}
		row_bounds_merge(&stats, &slices[t].stats);
	}
	if (outcome == SLICE_NOT_UNIFORM)
		return false;
	if (outcome != SLICE_OK)
		report_slice_failure(index, failed);
	copy_publish(arena, header, rows, 0, meta->stream_end, &stats);
	return true;
}
