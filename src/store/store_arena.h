/*
 * store_arena.h
 *	  The arena behind store.h: a table of copy headers and a pool of
 *	  fixed-size extents, in shared memory with the preload, else in the
 *	  backend's own memory.  For the store's files only.
 *
 * The table's lock guards the headers' states, pins, counts, chains and the
 * free list (a scan builds its view under it); each copy also has a lock of
 * its own, held by whoever brings the copy up to date (appends, dead
 * flags), so that one backend does that work while the others wait for it.
 * A private arena needs no locks.
 */
#ifndef HYBRIDSEARCH_STORE_ARENA_H
#define HYBRIDSEARCH_STORE_ARENA_H

#include "storage/condition_variable.h"
#include "storage/lwlock.h"

#include "store/store.h"

typedef struct StoreArena
{
	bool		shared;
	LWLockPadded *locks;		/* the table's, then one per header; shared only */
	ConditionVariable loaded;	/* broadcast when a load ends */
	int64		extent_count;
	int64		free_count;
	int64		free_head;		/* -1: none */
	uint64		clock;			/* for least-recently-used order */
	uint64		next_id;		/* ids of copies */
	int64	   *next_extent;	/* chains and the free list; -1 ends one */
	char	   *extents;		/* shared: extent_count extents in a row */
	char	  **private_extents;	/* private: each allocated when taken */
	CopyHeader	copies[STORE_MAX_COPIES];
} StoreArena;

extern StoreArena *store_arena(void);
extern void arena_lock(StoreArena *arena, bool exclusive);
extern void arena_unlock(StoreArena *arena);
extern void copy_lock(StoreArena *arena, int slot, bool exclusive);
extern void copy_unlock(StoreArena *arena, int slot);
extern char *arena_extent(StoreArena *arena, int64 extent);
extern void arena_chain(StoreArena *arena, int64 first, int64 count, char **dest);
extern bool arena_grow(StoreArena *arena, int slot, int64 row_extents, int64 null_extents);
extern void arena_release(StoreArena *arena, int slot);
extern int	arena_new_slot(StoreArena *arena);
extern Size copy_bytes(const StoreArena *arena, const CopyHeader *header);
extern int64 extents_for(int64 count, int64 per_extent);
extern int64 arena_capacity(const StoreArena *arena);

#endif							/* HYBRIDSEARCH_STORE_ARENA_H */
