/*
 * hybrid_stream_parallel.c
 *	  Reading a whole entry stream on several threads, for the first load
 *	  of a dense copy and for scans that stream the pages.
 *
 * Possible when every entry of the stream has the same size (no NULLs, one
 * dimension count: the usual case): entry i then starts at byte i * size.
 * Each thread takes a range of entries, reads the blocks holding them
 * straight from the index's files with 1 MB preads (the index's dirty
 * buffers are written out first, so the files hold every byte below the
 * metapage's stream end; only VACUUM's dead flags change below it, and the
 * metapage generation tracks those, or its compaction, under a lock no
 * reader shares), verifies their checksums, and hands
 * each entry to a visitor.  A thread that meets an entry of another size,
 * or a page whose checksum fails twice, stops, and the caller reads
 * through the buffer manager instead.
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "access/xlog.h"
#include "common/relpath.h"
#include "storage/bufmgr.h"
#include "storage/checksum.h"
#include "utils/rel.h"

#include "index/hybrid.h"
#include "threads.h"

#define PARALLEL_STREAM_MIN_ENTRIES 16384
#define ENTRIES_PER_THREAD		8192
#define CHUNK_BLOCKS			128		/* one pread: 1 MB */

typedef enum SliceOutcome
{
	SLICE_OK = 0,
	SLICE_FALL_BACK,			/* read through the buffer manager instead */
	SLICE_READ_FAILED
} SliceOutcome;

/* What one thread reads and what it found. */
typedef struct StreamSlice
{
	int			dim;
	bool		checksums;
	const int  *files;			/* the index's segment files */
	int64		first_entry;
	int64		end_entry;
	EntryVisitor visit;
	void	   *state;			/* the visitor's, for this thread */
	/* the outcome */
	SliceOutcome outcome;
	int			read_errno;
	BlockNumber bad_block;
} StreamSlice;

/* The blocks a thread holds in memory: [first, first + count). */
typedef struct BlockChunk
{
	char	   *data;
	BlockNumber first;
	int			count;
} BlockChunk;

/*
 * Whether a page read from the file carries its checksum.  A page written
 * out while it was read can come back torn: it is read once more, and a
 * page that still fails sends the whole read through the buffer manager,
 * which reports real damage as it always does.
 */
static bool
checksum_holds(StreamSlice *slice, char *page, BlockNumber block, off_t offset)
{
	int			segment = block / RELSEG_SIZE;

	for (int attempt = 0; attempt < 2; attempt++)
	{
		if (PageIsNew((Page) page) || pg_checksum_page(page, block) == ((PageHeader) page)->pd_checksum)
			return true;
		if (attempt == 0 && pread(slice->files[segment], page, BLCKSZ, offset) != BLCKSZ)
			return false;
	}
	return false;
}

/* Read blocks from block on (up to last) into the chunk; false on failure. */
static bool
read_chunk(StreamSlice *slice, BlockChunk *chunk, BlockNumber block, BlockNumber last)
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
		if (!checksum_holds(slice, chunk->data + (Size) i * BLCKSZ, block + i, offset + (off_t) i * BLCKSZ))
		{
			slice->outcome = SLICE_FALL_BACK;
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
stream_bytes(StreamSlice *slice, BlockChunk *chunk, uint64 position, Size len, char *spare,
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

/* A reading thread: preads and the visitor's arithmetic, no PostgreSQL calls. */
static void *
read_slice(void *arg)
{
	StreamSlice *slice = (StreamSlice *) arg;
	Size		entry_size = ENTRY_ALIGNED_SIZE(slice->dim);
	BlockNumber last = stream_block((uint64) slice->end_entry * entry_size - 1);
	BlockChunk	chunk = {malloc((Size) CHUNK_BLOCKS * BLCKSZ), InvalidBlockNumber, 0};
	char	   *spare = malloc(entry_size);

	if (chunk.data == NULL || spare == NULL)
	{
		slice->outcome = SLICE_READ_FAILED;
		slice->read_errno = ENOMEM;
	}
	for (int64 i = slice->first_entry; i < slice->end_entry && slice->outcome == SLICE_OK; i++)
	{
		uint64		position = (uint64) i * entry_size;
		const char *entry = stream_bytes(slice, &chunk, position, entry_size, spare, last);
		EntryHeader header;

		if (entry == NULL)
			break;
		memcpy(&header, entry, sizeof(EntryHeader));
		if (header.dim != slice->dim || (header.flags & ENTRY_NULL))
		{
			slice->outcome = SLICE_FALL_BACK;
			break;
		}
		slice->visit(slice->state, i, &header, (const float *) (entry + ENTRY_VALUES_OFFSET),
					 position);
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
report_failure(Relation index, const StreamSlice *slice)
{
	errno = slice->read_errno;
	ereport(ERROR,
			(errcode_for_file_access(),
			 errmsg("could not read block %u of hybrid index \"%s\": %s", slice->bad_block,
					RelationGetRelationName(index),
					slice->read_errno ? strerror(slice->read_errno) : "unexpected end of file")));
}

/*
 * Whether stream_read_parallel can read the index as meta shows it.  Only
 * float4 entries have a size meta->dim tells.
 */
bool
stream_is_uniform(Relation index, const HybridMetaPageData *meta)
{
	return hybrid_kind_is_dense(hybrid_index_kind(index)) && meta->dim > 0 && meta->entries >= PARALLEL_STREAM_MIN_ENTRIES &&
		meta->stream_end == (uint64) meta->entries * ENTRY_ALIGNED_SIZE(meta->dim) &&
		!RelationUsesLocalBuffers(index) && !RecoveryInProgress();
}

/* Threads stream_read_parallel uses for meta's entries. */
int
stream_threads(const HybridMetaPageData *meta)
{
	return work_threads(meta->entries, ENTRIES_PER_THREAD);
}

/*
 * Visit every entry of a uniform stream (stream_is_uniform) on
 * stream_threads(meta) threads, thread t with states + t * state_size.
 * False when the caller must read through the buffer manager instead (an
 * entry of another size, a page failing its checksum): nothing can be
 * assumed of what was visited.  A failed read is raised as an error.
 */
bool
stream_read_parallel(Relation index, const HybridMetaPageData *meta, EntryVisitor visit,
					 void *states, Size state_size)
{
	int64		entries = meta->entries;
	int			threads = stream_threads(meta);
	StreamSlice *slices = palloc0(sizeof(StreamSlice) * threads);
	int			file_count;
	int		   *files;
	StreamSlice *failed = NULL;

	FlushRelationBuffers(index);
	files = open_segments(index, stream_block(meta->stream_end - 1) + 1, &file_count);
	for (int t = 0; t < threads; t++)
	{
		slices[t].dim = meta->dim;
		slices[t].checksums = DataChecksumsEnabled();
		slices[t].files = files;
		slices[t].first_entry = entries * t / threads;
		slices[t].end_entry = entries * (t + 1) / threads;
		slices[t].visit = visit;
		slices[t].state = (char *) states + t * state_size;
	}
	run_on_threads(read_slice, slices, sizeof(StreamSlice), threads);
	for (int f = 0; f < file_count; f++)
		close(files[f]);
	for (int t = 0; t < threads; t++)
		if (slices[t].outcome != SLICE_OK && (failed == NULL || slices[t].outcome > failed->outcome))
			failed = &slices[t];
	if (failed && failed->outcome == SLICE_FALL_BACK)
		return false;
	if (failed)
		report_failure(index, failed);
	pfree(slices);
	return true;
}
