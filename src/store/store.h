/*
 * store.h
 *	  Dense copies of hybrid indexes: one per index per server, in shared
 *	  memory, read by every backend's scans and by the GPU worker.
 *
 * A copy holds an index's non-NULL vectors in row order (fp32, or fp16
 * scaled per row for precision = 'half') with, per row, what the fast
 * passes and re-scoring need (dot(row, row) or scale and norm, the stream
 * position, the heap TID and flags), plus the TIDs of NULL entries.  Rows
 * are numbered by their order among the index's non-NULL entries of the
 * metapage epoch's dimension count, dead ones included: every backend and
 * the GPU worker number them alike, before and after a VACUUM that only
 * flags entries.  A VACUUM that compacts the stream moves entries and gives
 * the metapage a new epoch, so copies of the old one are replaced.
 *
 * Memory comes in fixed-size extents from one arena.  With the preload the
 * arena is part of the server's main shared memory, sized at start-up by
 * hybridsearch.shared_cache_size (an anonymous mapping: no /dev/shm, so no
 * container limit on it); without the preload each backend keeps its own
 * arena of up to hybridsearch.cpu_cache_size.  A copy is a chain of row
 * extents and a chain of NULL extents; rows never straddle extents, so a
 * copy grows by appends without moving.  See doc/internals.md.
 *
 * Life of a copy: the first scan (or a prewarm) that finds none creates it
 * in state LOADING and loads it; scans of the same index meanwhile wait for
 * it.  Later scans pin it (pins keep it from being freed), bring it up to
 * date under its own lock (appends since it was loaded; dead flags when a
 * VACUUM changed the metapage generation), and read it without locks:
 * rows only ever get appended past what a pinned reader looks at, and dead
 * flags only ever get set.  Unpinned copies are evicted least recently
 * used first when the arena is full.  An index that cannot fit, or any
 * index while hybridsearch.cpu_cache is off, is streamed from its pages
 * for each scan instead (search/stream_source.c).
 */
#ifndef HYBRIDSEARCH_STORE_H
#define HYBRIDSEARCH_STORE_H

#include "index/hybrid.h"
#include "storage/relfilenode.h"
#include "utils/guc.h"

#define STORE_EXTENT_BYTES		((Size) 2 * 1024 * 1024)
#define STORE_MAX_COPIES		512

/* Row flags */
#define ROW_DEAD				0x01	/* removed by VACUUM: never returned */
#define ROW_UNTRUSTED			0x02	/* fast-pass distance not within bounds */

typedef enum CopyState
{
	COPY_FREE = 0,
	COPY_LOADING,				/* its first load runs */
	COPY_READY
} CopyState;

/* Which copy: an index's relfilenode (and backend, for temporary ones). */
typedef struct CopyKey
{
	Oid			database;
	RelFileNode node;
	int32		backend;		/* InvalidBackendId unless temporary */
	int32		half;			/* bool, as int32 to leave no padding */
} CopyKey;

/* Where each per-row array lives within a row extent. */
typedef struct CopyLayout
{
	int64		rows_per_extent;
	Size		row_bytes;		/* values of one row */
	Size		scalar_offset;	/* float: dot(row, row) (fp32) or 1/scale (half) */
	Size		norm_offset;	/* float, half: the row's L2 norm */
	Size		position_offset;	/* uint64, half: stream position of the entry */
	Size		tid_offset;		/* ItemPointerData */
	Size		flags_offset;	/* uint8: ROW_* */
	int64		nulls_per_extent;	/* NULL extents: tids, then their flags */
	Size		null_flags_offset;	/* uint8: ROW_DEAD */
} CopyLayout;

/* The norms that bound the fast passes' errors, and the rows outside them. */
typedef struct RowBounds
{
	double		min_norm;		/* smallest non-zero L2 norm of trusted rows */
	double		max_norm;
	double		max_l1;
	int64		untrusted;		/* rows flagged ROW_UNTRUSTED */
} RowBounds;

/* A copy's header in the arena's table (shared when the arena is). */
typedef struct CopyHeader
{
	uint64		id;				/* new for every copy a header holds */
	CopyKey		key;
	Oid			index_oid;
	CopyState	state;
	bool		orphaned;		/* replaced or dropped: freed at the last unpin */
	int			pins;
	uint32		generation;		/* metapage generation its dead flags match */
	uint32		epoch;			/* metapage epoch: the row numbering */
	int			dim;
	int64		rows;			/* published: rows readers may use */
	int64		nulls;
	uint64		loaded_to;		/* stream position loaded up to */
	int64		row_extents;	/* extents in each chain */
	int64		null_extents;
	int64		first_row_extent;
	int64		last_row_extent;
	int64		first_null_extent;
	int64		last_null_extent;
	RowBounds	bounds;
	uint64		last_used;
} CopyHeader;

/* A scan's pinned view of a copy: what was published when it pinned. */
typedef struct CopyView
{
	int			slot;			/* the header's place in the table */
	uint64		id;				/* and the copy's id there */
	bool		shared;
	int			dim;
	bool		half;
	uint32		epoch;
	int64		rows;
	int64		nulls;
	CopyLayout	layout;
	char	  **row_extents;	/* base address of each row extent */
	char	  **null_extents;
	RowBounds	bounds;
} CopyView;

static inline char *
view_row_extent(const CopyView *view, int64 row)
{
	return view->row_extents[row / view->layout.rows_per_extent];
}

static inline int64
view_row_index(const CopyView *view, int64 row)
{
	return row % view->layout.rows_per_extent;
}

static inline const void *
view_values(const CopyView *view, int64 row)
{
	return view_row_extent(view, row) + view_row_index(view, row) * view->layout.row_bytes;
}

static inline float
view_scalar(const CopyView *view, int64 row)
{
	return ((const float *) (view_row_extent(view, row) +
							 view->layout.scalar_offset))[view_row_index(view, row)];
}

static inline float
view_norm(const CopyView *view, int64 row)
{
	return ((const float *) (view_row_extent(view, row) +
							 view->layout.norm_offset))[view_row_index(view, row)];
}

static inline uint64
view_position(const CopyView *view, int64 row)
{
	return ((const uint64 *) (view_row_extent(view, row) +
							  view->layout.position_offset))[view_row_index(view, row)];
}

static inline ItemPointer
view_tid(const CopyView *view, int64 row)
{
	return ((ItemPointer) (view_row_extent(view, row) +
						   view->layout.tid_offset)) + view_row_index(view, row);
}

static inline uint8
view_flags(const CopyView *view, int64 row)
{
	return ((const uint8 *) (view_row_extent(view, row) +
							 view->layout.flags_offset))[view_row_index(view, row)];
}

static inline ItemPointer
view_null_tid(const CopyView *view, int64 i)
{
	return ((ItemPointer) view->null_extents[i / view->layout.nulls_per_extent]) +
		i % view->layout.nulls_per_extent;
}

static inline uint8
view_null_flags(const CopyView *view, int64 i)
{
	int64		per = view->layout.nulls_per_extent;

	return ((const uint8 *) (view->null_extents[i / per] +
							 view->layout.null_flags_offset))[i % per];
}

/* store.c: pinning copies */
extern void copy_layout(int dim, bool half, CopyLayout *layout);
extern CopyView *store_pin(Relation index, const HybridMetaPageData *meta,
						   HybridPrecision precision, MemoryContext scan_context);
extern void store_forget_index(Oid index_oid);
extern void view_rows_as_float(const CopyView *view, int64 first, int64 count, float *dest);
extern bool store_read_rows(Oid database, RelFileNode node, bool half, uint32 epoch,
							int64 first, int64 count, float *dest);

/* What a scan of an index would find, for the planner (hybrid_cost.c). */
typedef enum CopyCostState
{
	COPY_COST_READY,			/* loaded */
	COPY_COST_LOAD,				/* the scan loads it */
	COPY_COST_STREAM			/* no copy: the scan streams the pages */
} CopyCostState;

extern CopyCostState store_cost_state(Relation index, const HybridMetaPageData *meta,
									  HybridPrecision precision);

/* What the server holds for an index, for hybridsearch_stats. */
typedef struct CopyUsage
{
	const char *state;			/* "ready", "loading", or "none" */
	bool		shared;
	int64		rows;
	Size		bytes;
} CopyUsage;

extern void store_usage(Oid index_oid, CopyUsage *usage);

/* prewarm.c */
extern bool check_prewarm(char **newval, void **extra, GucSource source);
extern void prewarm_register_workers(void);

/* store_arena.c: the shared arena */
extern void store_request_shmem(void);
extern void store_init_shmem(void);
extern bool store_is_shared(void);

#endif							/* HYBRIDSEARCH_STORE_H */
