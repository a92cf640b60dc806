/*
 * scan_stats.h
 *	  Per-index scan counters behind the hybridsearch_stats view.
 *
 * With shared_preload_libraries = 'hybridsearch' the counters live in
 * shared memory and cover every backend; without it each backend counts
 * only its own scans (the view's stats_scope column says which).
 */
#ifndef HYBRIDSEARCH_SCAN_STATS_H
#define HYBRIDSEARCH_SCAN_STATS_H

typedef enum ScanPath
{
	SCAN_PATH_CPU = 0,			/* the CPU pass over the shared copy */
	SCAN_PATH_GPU = 1,
	SCAN_PATH_STREAM = 2		/* no copy: a pass over the index's pages */
} ScanPath;

#define SCAN_PATHS				3

extern void scan_stats_request_shmem(void);
extern void scan_stats_init_shmem(void);
extern void scan_stats_record(Oid index_oid, ScanPath path, double milliseconds);
extern void scan_stats_fallback(Oid index_oid);
extern void scan_stats_gpu_search(Oid index_oid, int batch_size, double kernel_ms);
extern void scan_stats_copy_loaded(Oid index_oid, double milliseconds);
extern void scan_stats_copy_evicted(Oid database, Oid index_oid);

#endif							/* HYBRIDSEARCH_SCAN_STATS_H */
