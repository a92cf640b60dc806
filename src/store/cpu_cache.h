/*
 * cpu_cache.h
 *	  Dense copies of a hybrid index's vectors for the CPU search.
 *
 * A copy holds the non-NULL vectors in stream order (fp32, or fp16 for
 * precision = 'half'), their heap TIDs, and the TIDs of live NULL entries.
 * It is keyed by the index's relfilenode, the metapage's generation and
 * epoch, and brought up to date before each scan by loading only the
 * entries appended since.
 *
 * Rows are numbered by their order among the index's non-NULL entries of
 * the epoch's dimension count, dead ones included, so every backend numbers
 * the rows of one (relfilenode, epoch) alike, before and after VACUUM: the
 * GPU worker's copy, filled from any backend's, relies on it.  Dead rows
 * are flagged and never returned.
 *
 * Scans pin the copy they use (until their memory is reset), so a copy
 * replaced or evicted meanwhile, by a newer generation or another scan in
 * the same backend, is freed only once no scan uses it.
 */
#ifndef HYBRIDSEARCH_CPU_CACHE_H
#define HYBRIDSEARCH_CPU_CACHE_H

#include "index/hybrid.h"

typedef struct DenseRows
{
	int			dim;
	uint32		generation;		/* the metapage generation it copies */
	uint32		epoch;			/* the row numbering (metapage epoch) */
	bool		half;			/* fp16 values; else fp32 */
	int64		rows;			/* numbered rows, dead ones included */
	int64		capacity;
	float	   *values;			/* rows x dim, fp32 */
	float	   *self_dots;		/* fp32: dot(row, row) as the cosine operator computes it */
	uint16	   *half_values;	/* rows x dim, fp16 of value * scale */
	float	   *inv_scales;		/* half: 1 / scale of each row */
	float	   *norms;			/* half: each row's L2 norm */
	double		min_norm;		/* smallest non-zero L2 norm, for error bounds */
	double		max_norm;		/* largest L2 norm */
	double		max_l1;			/* largest L1 norm */
	uint64	   *positions;		/* half: stream position of each row */
	ItemPointerData *tids;
	bool	   *dead;			/* removed by VACUUM: numbered, never returned */
	int64	   *forced_rows;	/* rows whose fast-pass distances are untrusted */
	int64		forced_count;
	int64		forced_capacity;
	ItemPointerData *null_tids;
	int64		nulls;
	int64		null_capacity;
	uint64		loaded_to;		/* stream position loaded up to */
	MemoryContext context;		/* holds the arrays */
	int			pins;			/* scans using this copy */
	bool		orphaned;		/* replaced in the cache: free at last unpin */
} DenseRows;

extern DenseRows *cpu_cache_get(Relation index, const HybridMetaPageData *meta,
								HybridPrecision precision, MemoryContext scan_context,
								bool *from_cache);
extern Size dense_rows_bytes(const DenseRows *rows);
extern void cpu_cache_usage(Oid index_oid, int64 *rows, Size *bytes);

#endif							/* HYBRIDSEARCH_CPU_CACHE_H */
