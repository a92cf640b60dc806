/*
 * hybrid.h
 *	  The hybrid index access method: page layout, metapage, options and
 *	  the entry points of its parts (build, insert, scan, vacuum, cost,
 *	  validate).
 *
 * Layout.  Block 0 is the metapage.  Every later block holds a slice of one
 * byte stream of variable-length entries, packed back to back across page
 * boundaries: stream byte p lives in block 1 + p / STREAM_PAGE_BYTES at
 * offset SizeOfPageHeaderData + p % STREAM_PAGE_BYTES.  Packing across
 * pages stores vectors of any length the type allows without waste, and
 * appends only ever touch the tail, so a dense copy kept elsewhere (the
 * cache) loads just what was appended since it last looked.
 *
 * Each entry is an EntryHeader followed by dim 4-byte words (none for a
 * NULL value): the float4 values of a vector or halfvec, or for bit and
 * sparsevec the value's own varlena bytes padded to whole words
 * (hybrid_kind.c).  VACUUM marks dead ones with a flag and bumps the
 * metapage's generation, which tells caches to reload their dead flags;
 * then it compacts the stream (hybrid_compact.c): live entries from the
 * end move into dead ones of the same size, the metapage gets a new epoch
 * (caches reload, since row numbers change) and the freed tail pages are
 * truncated.
 */
#ifndef HYBRIDSEARCH_HYBRID_H
#define HYBRIDSEARCH_HYBRID_H

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "storage/bufmgr.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"

#include "type/distance.h"
#include "type/vector.h"

#define HYBRID_MAGIC			0x48594252	/* "HYBR" */
#define HYBRID_VERSION			1
#define HYBRID_METAPAGE_BLKNO	0
#define HYBRID_FIRST_STREAM_BLKNO 1

/* Bytes of stream each data page holds. */
#define STREAM_PAGE_BYTES		(BLCKSZ - SizeOfPageHeaderData)

/* Entry flags */
#define ENTRY_DEAD				0x01	/* removed by VACUUM */
#define ENTRY_NULL				0x02	/* the indexed value is NULL */

typedef struct EntryHeader
{
	ItemPointerData tid;		/* heap tuple */
	uint8		flags;			/* ENTRY_* */
	uint8		unused;
	uint16		dim;			/* number of 4-byte words that follow */
} EntryHeader;

StaticAssertDecl(sizeof(EntryHeader) == 10, "EntryHeader layout");
/* entries start at multiples of 4 so values stay 4-byte aligned in pages */
#define ENTRY_ALIGNED_SIZE(dim)	(TYPEALIGN(4, sizeof(EntryHeader)) + sizeof(float) * (dim))
#define ENTRY_VALUES_OFFSET		TYPEALIGN(4, sizeof(EntryHeader))

typedef struct HybridMetaPageData
{
	uint32		magic;
	uint32		version;
	int32		dim;			/* 0 until the first non-NULL vector */
	uint32		generation;		/* random at build, bumped when entries die */
	uint64		stream_end;		/* bytes of stream in use */
	int64		entries;		/* entries in the stream, dead ones included */
	int64		dead_entries;
	int64		null_entries;	/* live entries whose value is NULL */
	uint32		epoch;			/* random, new at build and when the dimension
								 * count changes: numbers rows (store.h) */
} HybridMetaPageData;

typedef HybridMetaPageData *HybridMetaPage;

/* Where stream byte position lives: its block and its offset in the page. */
static inline BlockNumber
stream_block(uint64 position)
{
	return HYBRID_FIRST_STREAM_BLKNO + (BlockNumber) (position / STREAM_PAGE_BYTES);
}

static inline Size
stream_offset(uint64 position)
{
	return SizeOfPageHeaderData + (Size) (position % STREAM_PAGE_BYTES);
}

#define HybridPageGetMeta(page)	((HybridMetaPage) PageGetContents(page))

/* Index options (WITH (...)) */
typedef enum HybridPrecision
{
	PRECISION_FULL = 0,
	PRECISION_HALF = 1
} HybridPrecision;

typedef struct HybridOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			precision;		/* HybridPrecision */
} HybridOptions;

/* What an index's entries hold, from its operator class's input type. */
typedef enum ElementKind
{
	KIND_FLOAT32,				/* vector: float4 values */
	KIND_HALF,					/* halfvec: float4 values, converted exactly */
	KIND_BIT,					/* bit: the value's bytes */
	KIND_SPARSE					/* sparsevec: the value's bytes */
} ElementKind;

/* What an entry stores for one non-NULL value, and the value's dimensions. */
typedef struct EntryPayload
{
	const void *data;
	Size		bytes;
	int			words;			/* bytes in 4-byte words, rounded up */
	int			dim;
} EntryPayload;

/* hybrid_kind.c */
extern ElementKind hybrid_index_kind(Relation index);
extern bool hybrid_kind_is_dense(ElementKind kind);
extern const char *hybrid_kind_type_name(ElementKind kind);
extern int	hybrid_kind_max_dim(ElementKind kind);
extern int	hybrid_value_dim(ElementKind kind, const void *value);
extern EntryPayload hybrid_entry_payload(Relation index, ElementKind kind, Datum value);
extern bool hybrid_payload_valid(ElementKind kind, const void *words, int word_count,
								 int index_dim);

/* hybrid_handler.c */
extern Datum hybrid_handler(PG_FUNCTION_ARGS);
extern bytea *hybrid_options(Datum reloptions, bool validate);
extern HybridPrecision hybrid_index_precision(Relation index);
extern DistanceMetric hybrid_index_metric(Relation index);
extern void hybrid_init_reloptions(void);
extern void hybrid_require_index(Relation index, const char *partitioned_hint);
extern Relation hybrid_open_readable(Oid index_oid);

/* hybrid_stream.c: the metapage and the entry stream */
extern void hybrid_init_metapage(Page page, int dim);
extern HybridMetaPageData hybrid_read_meta(Relation index);
extern void hybrid_append_entry(Relation index, ItemPointer tid, const EntryPayload *payload);
extern void hybrid_stream_read(Relation index, uint64 position, void *dest, Size len);

/* A sequential reader over the entries between two stream positions. */
typedef struct StreamReader
{
	Relation	index;
	uint64		position;		/* next entry starts here */
	uint64		end;
	BlockNumber block;			/* the page copied into page, or Invalid */
	BufferAccessStrategy strategy;	/* a small ring: a pass over a large index
									 * must not empty shared_buffers */
	PGAlignedBlock page;		/* a copy taken under the page's share lock */
} StreamReader;

extern void stream_reader_begin(StreamReader *reader, Relation index,
								uint64 start, uint64 end);
extern bool stream_reader_next(StreamReader *reader, EntryHeader *header,
							   float *values, uint64 *entry_position);

/* hybrid_stream_parallel.c: every entry of a uniform stream, on threads */
typedef void (*EntryVisitor) (void *state, int64 entry, const EntryHeader *header,
							  const float *values, uint64 position);

extern bool stream_is_uniform(Relation index, const HybridMetaPageData *meta);
extern int	stream_threads(const HybridMetaPageData *meta);
extern bool stream_read_parallel(Relation index, const HybridMetaPageData *meta,
								 EntryVisitor visit, void *states, Size state_size);

/* hybrid_build.c */
extern IndexBuildResult *hybrid_build(Relation heap, Relation index, IndexInfo *info);
extern void hybrid_buildempty(Relation index);

/* hybrid_insert.c */
extern bool hybrid_insert(Relation index, Datum *values, bool *isnull,
						  ItemPointer heap_tid, Relation heap,
						  IndexUniqueCheck check_unique, bool index_unchanged,
						  IndexInfo *info);
extern void hybrid_check_dims(Relation index, int index_dim, int value_dim);

/* hybrid_vacuum.c */
extern IndexBulkDeleteResult *hybrid_bulkdelete(IndexVacuumInfo *info,
												IndexBulkDeleteResult *stats,
												IndexBulkDeleteCallback callback,
												void *callback_state);
extern IndexBulkDeleteResult *hybrid_vacuumcleanup(IndexVacuumInfo *info,
												   IndexBulkDeleteResult *stats);

/* hybrid_compact.c */
extern void hybrid_compact_after_vacuum(Relation index, int elevel);

/* hybridsearch.vacuum_fault: where a test has compaction die as by kill -9 */
typedef enum VacuumFault
{
	VACUUM_FAULT_NONE = 0,
	VACUUM_FAULT_AFTER_MOVE,	/* after the first entry moved */
	VACUUM_FAULT_MID_MOVE,		/* between the records of a long entry's move */
	VACUUM_FAULT_BEFORE_TRUNCATE	/* new stream end logged, pages not yet cut */
} VacuumFault;

/* hybrid_scan.c */
extern IndexScanDesc hybrid_beginscan(Relation index, int nkeys, int norderbys);
extern void hybrid_rescan(IndexScanDesc scan, ScanKey keys, int nkeys,
						  ScanKey orderbys, int norderbys);
extern bool hybrid_gettuple(IndexScanDesc scan, ScanDirection dir);
extern void hybrid_endscan(IndexScanDesc scan);

/* hybrid_cost.c */
extern void hybrid_costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
								Cost *startup_cost, Cost *total_cost,
								Selectivity *selectivity, double *correlation,
								double *pages);

/* hybrid_validate.c */
extern bool hybrid_validate(Oid opclassoid);

#endif							/* HYBRIDSEARCH_HYBRID_H */
