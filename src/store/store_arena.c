/*
 * store_arena.c
 *	  The arena of dense copies (see store_arena.h and store.h).
 *
 * Shared: the extents are one block of the server's main shared memory,
 * sized at start-up by hybridsearch.shared_cache_size.  Main shared memory
 * is an anonymous mapping inherited by every backend at the same address,
 * so it needs no /dev/shm (containers give that 64 MB) and pointers into
 * it are valid everywhere.  Pages of a freed extent are handed back to the
 * kernel, so the server's memory shows only what copies hold.
 *
 * Private (no preload, or shared_cache_size = 0): each backend's extents
 * come from malloc, up to hybridsearch.cpu_cache_size in all.
 */
#include "postgres.h"

#include <sys/mman.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/memutils.h"

#include "hybridsearch.h"
#include "stats/scan_stats.h"
#include "store/store_arena.h"

static StoreArena *shared_arena = NULL;
static StoreArena *private_arena = NULL;

/* Bytes hybridsearch.shared_cache_size asks for; -1 is a quarter of RAM. */
static Size
shared_cache_bytes(void)
{
	if (hybridsearch_shared_cache_size_mb < 0)
		return (Size) sysconf(_SC_PHYS_PAGES) * (Size) sysconf(_SC_PAGESIZE) / 4;
	return (Size) hybridsearch_shared_cache_size_mb * 1024 * 1024;
}

static int64
shared_extent_count(void)
{
	return (int64) (shared_cache_bytes() / STORE_EXTENT_BYTES);
}

void
store_request_shmem(void)
{
	int64		extents = shared_extent_count();

	if (extents == 0)
		return;
	RequestAddinShmemSpace(add_size(MAXALIGN(sizeof(StoreArena)),
									mul_size(sizeof(int64), extents)));
	/* room to align the extents on a huge-page boundary */
	RequestAddinShmemSpace(add_size(mul_size(STORE_EXTENT_BYTES, extents), STORE_EXTENT_BYTES));
	RequestNamedLWLockTranche("hybridsearch_store", 1 + STORE_MAX_COPIES);
}

static void
reset_header(CopyHeader *header)
{
	memset(header, 0, sizeof(CopyHeader));
	header->state = COPY_FREE;
	header->first_row_extent = header->last_row_extent = -1;
	header->first_null_extent = header->last_null_extent = -1;
}

static void
reset_headers(StoreArena *arena)
{
	for (int i = 0; i < STORE_MAX_COPIES; i++)
		reset_header(&arena->copies[i]);
}

static void
init_free_list(StoreArena *arena, int64 first, int64 count)
{
	for (int64 e = first + count - 1; e >= first; e--)
	{
		arena->next_extent[e] = arena->free_head;
		arena->free_head = e;
	}
	arena->free_count += count;
}

void
store_init_shmem(void)
{
	int64		extents = shared_extent_count();
	bool		found;
	char	   *block;

	if (extents == 0)
		return;
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared_arena = ShmemInitStruct("hybridsearch_store",
								   MAXALIGN(sizeof(StoreArena)) + sizeof(int64) * extents, &found);
	block = ShmemInitStruct("hybridsearch_store_extents",
							STORE_EXTENT_BYTES * (extents + 1), &found);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche("hybridsearch_store");

		memset(shared_arena, 0, sizeof(StoreArena));
		shared_arena->shared = true;
		shared_arena->locks = locks;
		ConditionVariableInit(&shared_arena->loaded);
		shared_arena->next_extent = (int64 *) ((char *) shared_arena + MAXALIGN(sizeof(StoreArena)));
		shared_arena->extents = (char *) TYPEALIGN(STORE_EXTENT_BYTES, block);
		shared_arena->extent_count = extents;
		shared_arena->free_head = -1;
		reset_headers(shared_arena);
		init_free_list(shared_arena, 0, extents);
	}
	LWLockRelease(AddinShmemInitLock);
}

bool
store_is_shared(void)
{
	return shared_arena != NULL;
}

static StoreArena *
private_arena_create(void)
{
	StoreArena *arena = MemoryContextAllocZero(TopMemoryContext, sizeof(StoreArena));

	arena->free_head = -1;
	reset_headers(arena);
	return arena;
}

StoreArena *
store_arena(void)
{
	if (shared_arena)
		return shared_arena;
	if (private_arena == NULL)
		private_arena = private_arena_create();
	return private_arena;
}

void
arena_lock(StoreArena *arena, bool exclusive)
{
	if (arena->shared)
		LWLockAcquire(&arena->locks[0].lock, exclusive ? LW_EXCLUSIVE : LW_SHARED);
}

void
arena_unlock(StoreArena *arena)
{
	if (arena->shared)
		LWLockRelease(&arena->locks[0].lock);
}

void
copy_lock(StoreArena *arena, int slot, bool exclusive)
{
	if (arena->shared)
		LWLockAcquire(&arena->locks[1 + slot].lock, exclusive ? LW_EXCLUSIVE : LW_SHARED);
}

void
copy_unlock(StoreArena *arena, int slot)
{
	if (arena->shared)
		LWLockRelease(&arena->locks[1 + slot].lock);
}

char *
arena_extent(StoreArena *arena, int64 extent)
{
	if (arena->shared)
		return arena->extents + STORE_EXTENT_BYTES * extent;
	return arena->private_extents[extent];
}

/* The addresses of a chain's first count extents, into dest. */
void
arena_chain(StoreArena *arena, int64 first, int64 count, char **dest)
{
	int64		n = 0;

	for (int64 e = first; e >= 0 && n < count; e = arena->next_extent[e])
		dest[n++] = arena_extent(arena, e);
}

int64
extents_for(int64 count, int64 per_extent)
{
	return (count + per_extent - 1) / per_extent;
}

Size
copy_bytes(const StoreArena *arena pg_attribute_unused(), const CopyHeader *header)
{
	return STORE_EXTENT_BYTES * (Size) (header->row_extents + header->null_extents);
}

/*
 * Extents the arena may hold in all: the shared one's, or for a private
 * one what hybridsearch.cpu_cache_size (a session may change it) allows.
 */
int64
arena_capacity(const StoreArena *arena)
{
	if (arena->shared)
		return arena->extent_count;
	return (int64) ((Size) hybridsearch_cpu_cache_size_mb * 1024 * 1024 / STORE_EXTENT_BYTES);
}

/* Extents the arena may still take. */
static int64
available_extents(StoreArena *arena)
{
	return arena_capacity(arena) - (arena->extent_count - arena->free_count);
}

/* A private arena's new extent ids: the id arrays grow as needed. */
static void
private_add_ids(StoreArena *arena, int64 wanted)
{
	int64		old = arena->extent_count;
	int64		count = Max(old * 2, old + wanted);
	MemoryContext context = TopMemoryContext;

	arena->next_extent = arena->next_extent ?
		repalloc_huge(arena->next_extent, sizeof(int64) * count) :
		MemoryContextAllocHuge(context, sizeof(int64) * count);
	arena->private_extents = arena->private_extents ?
		repalloc_huge(arena->private_extents, sizeof(char *) * count) :
		MemoryContextAllocHuge(context, sizeof(char *) * count);
	for (int64 e = old; e < count; e++)
		arena->private_extents[e] = NULL;
	arena->extent_count = count;
	init_free_list(arena, old, count - old);
}

static int64
take_extent(StoreArena *arena)
{
	int64		extent;

	if (arena->free_head < 0)
		private_add_ids(arena, 64);
	extent = arena->free_head;
	arena->free_head = arena->next_extent[extent];
	arena->free_count--;
	if (!arena->shared && arena->private_extents[extent] == NULL)
	{
		void	   *memory = NULL;

		if (posix_memalign(&memory, 4096, STORE_EXTENT_BYTES) != 0)
		{
			arena->next_extent[extent] = arena->free_head;
			arena->free_head = extent;
			arena->free_count++;
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory for a dense copy of a hybrid index")));
		}
		arena->private_extents[extent] = memory;
	}
	return extent;
}

static void
give_back_chain(StoreArena *arena, int64 first)
{
	while (first >= 0)
	{
		int64		next = arena->next_extent[first];

		if (arena->shared)
			(void) madvise(arena_extent(arena, first), STORE_EXTENT_BYTES, MADV_REMOVE);
		else
		{
			free(arena->private_extents[first]);
			arena->private_extents[first] = NULL;
		}
		arena->next_extent[first] = arena->free_head;
		arena->free_head = first;
		arena->free_count++;
		first = next;
	}
}

/* Free a copy's extents and its header.  The table lock is held. */
void
arena_release(StoreArena *arena, int slot)
{
	CopyHeader *header = &arena->copies[slot];

	give_back_chain(arena, header->first_row_extent);
	give_back_chain(arena, header->first_null_extent);
	reset_header(header);
}

/* The least recently used copy that no scan pins, other than keep; -1 if none. */
static int
eviction_victim(StoreArena *arena, int keep)
{
	int			victim = -1;

	for (int i = 0; i < STORE_MAX_COPIES; i++)
	{
		CopyHeader *header = &arena->copies[i];

		if (i == keep || header->state != COPY_READY || header->pins > 0)
			continue;
		if (victim < 0 || header->last_used < arena->copies[victim].last_used)
			victim = i;
	}
	return victim;
}

static void
evict(StoreArena *arena, int slot)
{
	scan_stats_copy_evicted(arena->copies[slot].key.database, arena->copies[slot].index_oid);
	arena_release(arena, slot);
}

/* A free header, evicting the least recently used copy if none is; -1 if none can be. */
int
arena_new_slot(StoreArena *arena)
{
	int			victim;

	for (int i = 0; i < STORE_MAX_COPIES; i++)
		if (arena->copies[i].state == COPY_FREE)
			return i;
	victim = eviction_victim(arena, -1);
	if (victim >= 0)
		evict(arena, victim);
	return victim;
}

static void
append_extent(StoreArena *arena, int64 *first, int64 *last, int64 *count)
{
	int64		extent = take_extent(arena);

	arena->next_extent[extent] = -1;
	if (*last >= 0)
		arena->next_extent[*last] = extent;
	else
		*first = extent;
	*last = extent;
	(*count)++;
}

/*
 * Add extents to a copy's chains, evicting unpinned copies least recently
 * used first; false when the rest cannot be freed.  The table lock is held
 * exclusively.
 */
bool
arena_grow(StoreArena *arena, int slot, int64 row_extents, int64 null_extents)
{
	CopyHeader *header = &arena->copies[slot];

	while (available_extents(arena) < row_extents + null_extents)
	{
		int			victim = eviction_victim(arena, slot);

		if (victim < 0)
			return false;
		evict(arena, victim);
	}
	for (int64 i = 0; i < row_extents; i++)
		append_extent(arena, &header->first_row_extent, &header->last_row_extent,
					  &header->row_extents);
	for (int64 i = 0; i < null_extents; i++)
		append_extent(arena, &header->first_null_extent, &header->last_null_extent,
					  &header->null_extents);
	return true;
}
