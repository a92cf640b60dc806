/*
 * store.c
 *	  Pinning the copy of an index for a scan: finding it, loading it the
 *	  first time, bringing it up to date, and letting go (see store.h).
 *
 * A backend remembers the pins it holds, so that a scan's end, an error
 * (its memory is reset) or the backend's exit (even by FATAL, in the middle
 * of a load) gives them back and never leaves a copy pinned or LOADING.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "elapsed.h"
#include "hybridsearch.h"
#include "stats/scan_stats.h"
#include "store/copy_load.h"
#include "type/distance_half.h"

/* A pin this backend holds, released by its scan's memory reset. */
typedef struct HeldPin
{
	int			slot;
	uint64		id;
	bool		held;
	MemoryContextCallback callback;
} HeldPin;

static int	loading_slot = -1;	/* the copy this backend is loading */
static uint64 loading_id = 0;
static bool exit_hook_set = false;
static List *held_pins = NIL;	/* HeldPin *, in TopMemoryContext */

void
copy_layout(int dim, bool half, CopyLayout *layout)
{
	Size		row_bytes = (half ? sizeof(uint16) : sizeof(float)) * Max(dim, 1);
	Size		per_row = row_bytes + sizeof(float) + sizeof(ItemPointerData) + sizeof(uint8) +
		(half ? sizeof(float) + sizeof(uint64) : 0);
	int64		n = (int64) ((STORE_EXTENT_BYTES - 6 * 64) / per_row);
	Size		offset;

	layout->rows_per_extent = n;
	layout->row_bytes = row_bytes;
	offset = TYPEALIGN(64, n * row_bytes);
	layout->scalar_offset = offset;
	offset = TYPEALIGN(64, offset + n * sizeof(float));
	layout->norm_offset = layout->position_offset = 0;
	if (half)
	{
		layout->norm_offset = offset;
		offset = TYPEALIGN(64, offset + n * sizeof(float));
		layout->position_offset = offset;
		offset = TYPEALIGN(64, offset + n * sizeof(uint64));
	}
	layout->tid_offset = offset;
	offset = TYPEALIGN(64, offset + n * sizeof(ItemPointerData));
	layout->flags_offset = offset;
	Assert(offset + n <= STORE_EXTENT_BYTES);
	layout->nulls_per_extent = (int64) (STORE_EXTENT_BYTES / (sizeof(ItemPointerData) + 1));
	layout->null_flags_offset = sizeof(ItemPointerData) * layout->nulls_per_extent;
}

static CopyKey
make_key(Oid database, RelFileNode node, int32 backend, bool half)
{
	CopyKey		key;

	memset(&key, 0, sizeof(key));	/* no padding left undefined: keys are compared whole */
	key.database = database;
	key.node = node;
	key.backend = backend;
	key.half = half;
	return key;
}

static CopyKey
copy_key(Relation index, bool half)
{
	return make_key(MyDatabaseId, index->rd_node,
					RelationUsesLocalBuffers(index) ? MyBackendId : InvalidBackendId, half);
}

static pg_noinline int
find_copy(StoreArena *arena, const CopyKey *key)
{
	for (int i = 0; i < STORE_MAX_COPIES; i++)
	{
		CopyHeader *header = &arena->copies[i];

		if (header->state != COPY_FREE && !header->orphaned &&
			memcmp(&header->key, key, sizeof(CopyKey)) == 0)
			return i;
	}
	return -1;
}

/* Free a copy now, or at its last unpin.  The table lock is held. */
static void
orphan(StoreArena *arena, int slot)
{
	if (arena->copies[slot].pins == 0)
		arena_release(arena, slot);
	else
		arena->copies[slot].orphaned = true;
}

/* Orphan the index's other copies: an older relfilenode, another precision. */
static void
orphan_others(StoreArena *arena, Oid index_oid, int keep)
{
	for (int i = 0; i < STORE_MAX_COPIES; i++)
	{
		CopyHeader *header = &arena->copies[i];

		if (i != keep && header->state == COPY_READY && !header->orphaned &&
			header->key.database == MyDatabaseId && header->index_oid == index_oid)
			orphan(arena, i);
	}
}

static void
unpin(StoreArena *arena, int slot, uint64 id)
{
	CopyHeader *header = &arena->copies[slot];

	arena_lock(arena, true);
	if (header->id == id && header->state != COPY_FREE && --header->pins == 0 &&
		header->orphaned)
		arena_release(arena, slot);
	arena_unlock(arena);
}

static void
release_pin(void *arg)
{
	HeldPin    *pin = (HeldPin *) arg;

	if (pin->held)
		unpin(store_arena(), pin->slot, pin->id);
	pin->held = false;
	held_pins = list_delete_ptr(held_pins, pin);
	pfree(pin);
}

/* Give the copy up when a load fails: nobody may read half of it. */
static void
abandon(StoreArena *arena, int slot, uint64 id)
{
	arena_lock(arena, true);
	if (arena->copies[slot].id == id)
		arena_release(arena, slot);
	arena_unlock(arena);
	if (arena->shared)
		ConditionVariableBroadcast(&arena->loaded);
}

/* At exit (FATAL too): no pin held, no load left LOADING. */
static void
release_at_exit(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	StoreArena *arena = store_arena();

	LWLockReleaseAll();
	if (loading_slot >= 0)
		abandon(arena, loading_slot, loading_id);
	loading_slot = -1;
	while (held_pins != NIL)
	{
		HeldPin    *pin = linitial(held_pins);

		held_pins = list_delete_first(held_pins);
		if (pin->held)
			unpin(arena, pin->slot, pin->id);
		pin->held = false;
	}
}

/* Remember a pin; the scan's memory reset lets it go. */
static void
hold_pin(int slot, uint64 id, MemoryContext scan_context)
{
	HeldPin    *pin = MemoryContextAllocZero(TopMemoryContext, sizeof(HeldPin));
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	if (!exit_hook_set && store_is_shared())
	{
		before_shmem_exit(release_at_exit, 0);
		exit_hook_set = true;
	}
	pin->slot = slot;
	pin->id = id;
	pin->held = true;
	held_pins = lappend(held_pins, pin);
	MemoryContextSwitchTo(old);
	pin->callback.func = release_pin;
	pin->callback.arg = pin;
	MemoryContextRegisterResetCallback(scan_context, &pin->callback);
}

/*
 * The arena to keep the index's copy in; NULL when there is to be none
 * (hybridsearch.cpu_cache off, or the index could never fit): its scans
 * then stream the pages.
 */
static StoreArena *
arena_for(const HybridMetaPageData *meta, bool half)
{
	StoreArena *arena;
	CopyLayout	layout;
	int64		needed;

	if (!hybridsearch_cpu_cache)
		return NULL;
	arena = store_arena();
	copy_layout(meta->dim, half, &layout);
	needed = extents_for(meta->entries - meta->null_entries, layout.rows_per_extent) +
		extents_for(meta->null_entries, layout.nulls_per_extent);
	return needed <= arena_capacity(arena) ? arena : NULL;
}

/* Initialise a new header, pinned once, LOADING.  The table lock is held. */
static void
start_copy(StoreArena *arena, int slot, const CopyKey *key, Relation index,
		   const HybridMetaPageData *meta)
{
	CopyHeader *header = &arena->copies[slot];

	header->id = ++arena->next_id;
	header->key = *key;
	header->index_oid = RelationGetRelid(index);
	header->state = COPY_LOADING;
	header->pins = 1;
	header->generation = meta->generation;
	header->epoch = meta->epoch;
	header->dim = meta->dim;
	header->last_used = ++arena->clock;
}

/*
 * The copy of key for a scan that read meta, pinned: an existing one, or a
 * new one LOADING (*created).  Waits while another backend loads it.  -1
 * when no header can be had.
 */
static int
find_or_start(StoreArena *arena, const CopyKey *key, Relation index,
			  const HybridMetaPageData *meta, bool *created)
{
	for (;;)
	{
		int			slot;
		CopyHeader *header;

		arena_lock(arena, true);
		slot = find_copy(arena, key);
		header = slot >= 0 ? &arena->copies[slot] : NULL;
		if (header && (header->epoch != meta->epoch || header->dim != meta->dim))
		{
			orphan(arena, slot);	/* rebuilt in place, or a new dimension count */
			header = NULL;
		}
		if (header && header->state == COPY_LOADING)
		{
			arena_unlock(arena);
			ConditionVariableSleep(&arena->loaded, PG_WAIT_EXTENSION);
			continue;
		}
		ConditionVariableCancelSleep();
		*created = (header == NULL);
		if (header)
		{
			header->pins++;
			header->last_used = ++arena->clock;
		}
		else if ((slot = arena_new_slot(arena)) >= 0)
		{
			start_copy(arena, slot, key, index, meta);
			orphan_others(arena, RelationGetRelid(index), slot);
		}
		arena_unlock(arena);
		return slot;
	}
}

/* Load a new copy; false (and it is gone) when the arena cannot hold it. */
static bool
load_new(StoreArena *arena, int slot, Relation index, const HybridMetaPageData *meta)
{
	CopyHeader *header = &arena->copies[slot];
	uint64		id = header->id;
	bool		loaded;
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	loading_slot = slot;
	loading_id = id;
	PG_TRY();
	{
		loaded = copy_load_parallel(arena, slot, index, meta) ||
			copy_append(arena, slot, index, meta->stream_end);
	}
	PG_CATCH();
	{
		loading_slot = -1;
		abandon(arena, slot, id);
		PG_RE_THROW();
	}
	PG_END_TRY();
	loading_slot = -1;
	if (!loaded)
	{
		abandon(arena, slot, id);
		return false;
	}
	arena_lock(arena, true);
	header->state = COPY_READY;
	arena_unlock(arena);
	if (arena->shared)
		ConditionVariableBroadcast(&arena->loaded);
	scan_stats_copy_loaded(RelationGetRelid(index), ms_since(start));
	return true;
}

/*
 * Bring a pinned copy up to what meta shows: dead flags set by a VACUUM
 * since, entries appended since.  False when the arena cannot hold them.
 */
static bool
bring_up_to_date(StoreArena *arena, int slot, Relation index, const HybridMetaPageData *meta)
{
	CopyHeader *header = &arena->copies[slot];
	bool		ok = true;

	if ((int32) (meta->generation - header->generation) <= 0 &&
		meta->stream_end <= header->loaded_to)
		return true;
	copy_lock(arena, slot, true);
	if ((int32) (meta->generation - header->generation) > 0)
		copy_refresh(arena, slot, index, meta->generation);
	if (meta->stream_end > header->loaded_to)
		ok = copy_append(arena, slot, index, meta->stream_end);
	copy_unlock(arena, slot);
	return ok;
}

/* A scan's view of a pinned copy: what is published now. */
CopyView *
copy_view(StoreArena *arena, int slot, MemoryContext context)
{
	CopyHeader *header = &arena->copies[slot];
	CopyView   *view = MemoryContextAllocZero(context, sizeof(CopyView));

	arena_lock(arena, false);
	view->slot = slot;
	view->id = header->id;
	view->shared = arena->shared;
	view->dim = header->dim;
	view->half = header->key.half != 0;
	view->epoch = header->epoch;
	view->rows = header->rows;
	view->nulls = header->nulls;
	view->bounds = header->bounds;
	copy_layout(view->dim, view->half, &view->layout);
	view->row_extents = MemoryContextAlloc(context, sizeof(char *) * Max(header->row_extents, 1));
	view->null_extents = MemoryContextAlloc(context, sizeof(char *) * Max(header->null_extents, 1));
	arena_chain(arena, header->first_row_extent, header->row_extents, view->row_extents);
	arena_chain(arena, header->first_null_extent, header->null_extents, view->null_extents);
	arena_unlock(arena);
	return view;
}

/*
 * The copy of index as of meta, pinned until scan_context is reset; NULL
 * when there is none to be had (hybridsearch.cpu_cache off, or the index
 * does not fit the arena): the scan then streams the index's pages.
 */
CopyView *
store_pin(Relation index, const HybridMetaPageData *meta, HybridPrecision precision,
		  MemoryContext scan_context)
{
	bool		half = (precision == PRECISION_HALF);
	StoreArena *arena = arena_for(meta, half);
	CopyKey		key = copy_key(index, half);
	bool		created;
	int			slot;

	if (arena == NULL)
		return NULL;
	slot = find_or_start(arena, &key, index, meta, &created);
	if (slot < 0)
		return NULL;
	hold_pin(slot, arena->copies[slot].id, scan_context);
	if (created ? !load_new(arena, slot, index, meta) :
		!bring_up_to_date(arena, slot, index, meta))
		return NULL;
	return copy_view(arena, slot, scan_context);
}

/* What a scan would find, without changing anything: is the copy loaded? */
CopyCostState
store_cost_state(Relation index, const HybridMetaPageData *meta, HybridPrecision precision)
{
	bool		half = (precision == PRECISION_HALF);
	StoreArena *arena = arena_for(meta, half);
	CopyKey		key = copy_key(index, half);
	CopyCostState state = COPY_COST_LOAD;
	int			slot;

	if (arena == NULL)
		return COPY_COST_STREAM;
	arena_lock(arena, false);
	slot = find_copy(arena, &key);
	if (slot >= 0 && arena->copies[slot].state == COPY_READY &&
		arena->copies[slot].epoch == meta->epoch)
		state = COPY_COST_READY;
	arena_unlock(arena);
	return state;
}

/* DROP INDEX: its copies go (at once, or when their last scan ends). */
void
store_forget_index(Oid index_oid)
{
	StoreArena *arena = store_arena();

	arena_lock(arena, true);
	orphan_others(arena, index_oid, -1);
	arena_unlock(arena);
}

/* What the server (or this backend, without the preload) holds for an index. */
void
store_usage(Oid index_oid, CopyUsage *usage)
{
	StoreArena *arena = store_arena();

	usage->state = "none";
	usage->shared = arena->shared;
	usage->rows = 0;
	usage->bytes = 0;
	arena_lock(arena, false);
	for (int i = 0; i < STORE_MAX_COPIES; i++)
	{
		CopyHeader *header = &arena->copies[i];

		if (header->state == COPY_FREE || header->orphaned ||
			header->key.database != MyDatabaseId || header->index_oid != index_oid)
			continue;
		usage->state = header->state == COPY_READY ? "ready" : "loading";
		usage->rows += header->rows;
		usage->bytes += copy_bytes(arena, header);
	}
	arena_unlock(arena);
}

/* Rows [first, first + count) of a view as fp32 rows (half rows unscaled). */
void
view_rows_as_float(const CopyView *view, int64 first, int64 count, float *dest)
{
	for (int64 r = 0; r < count; r++)
	{
		if (view->half)
			half_row_to_float(view_values(view, first + r), view_scalar(view, first + r),
							  dest + r * view->dim, view->dim);
		else
			memcpy(dest + r * view->dim, view_values(view, first + r), sizeof(float) * view->dim);
	}
}

/* Rows [first, first + count) of a pinned copy as fp32 rows. */
static void
rows_as_float(StoreArena *arena, int slot, int64 first, int64 count, float *dest)
{
	CopyView   *view = copy_view(arena, slot, CurrentMemoryContext);

	view_rows_as_float(view, first, count, dest);
	pfree(view->row_extents);
	pfree(view->null_extents);
	pfree(view);
}

/*
 * For the GPU worker, which connects to no database: rows [first, first +
 * count) of the shared copy (database, node, half) at epoch, as fp32 rows
 * in dest.  False when that copy is not loaded that far (evicted, or of
 * another epoch): the backend then sends the rows itself.
 */
bool
store_read_rows(Oid database, RelFileNode node, bool half, uint32 epoch, int64 first,
				int64 count, float *dest)
{
	StoreArena *arena = store_arena();
	CopyKey		key = make_key(database, node, InvalidBackendId, half);
	int			slot;
	uint64		id;
	bool		found;

	arena_lock(arena, true);
	slot = find_copy(arena, &key);
	found = slot >= 0 && arena->copies[slot].state == COPY_READY &&
		arena->copies[slot].epoch == epoch && arena->copies[slot].rows >= first + count;
	if (found)
		arena->copies[slot].pins++;
	arena_unlock(arena);
	if (!found)
		return false;
	id = arena->copies[slot].id;
	PG_TRY();
	{
		rows_as_float(arena, slot, first, count, dest);
	}
	PG_FINALLY();
	{
		unpin(arena, slot, id);
	}
	PG_END_TRY();
	return true;
}
