/*
 * hybridsearch.c
 *	  Module entry point: module magic, settings and one-time set-up.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "distance.h"
#include "distance_half.h"
#include "hybrid.h"
#include "hybridsearch.h"
#include "scan_stats.h"

PG_MODULE_MAGIC;

int			hybridsearch_cpu_threads = 0;
bool		hybridsearch_cpu_cache = true;
int			hybridsearch_cpu_cache_size_mb = 1024;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
request_shmem(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	scan_stats_request_shmem();
}

static void
startup_shmem(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	scan_stats_init_shmem();
}

static void
define_settings(void)
{
	DefineCustomIntVariable("hybridsearch.cpu_threads",
							"Threads one CPU index scan computes distances with.",
							"0 uses every online CPU.",
							&hybridsearch_cpu_threads, 0, 0, 64,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("hybridsearch.cpu_cache",
							 "Keeps dense copies of hybrid indexes in backend memory between scans.",
							 "Off reads the index pages on every scan.",
							 &hybridsearch_cpu_cache, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("hybridsearch.cpu_cache_size",
							"Memory one backend may keep in dense copies of hybrid indexes.",
							"Copies beyond it are evicted, least recently used first; "
							"an index larger than it is read from its pages on every scan.",
							&hybridsearch_cpu_cache_size_mb, 1024, 0, INT_MAX / 2,
							PGC_SUSET, GUC_UNIT_MB, NULL, NULL, NULL);
	MarkGUCPrefixReserved("hybridsearch");
}

void
_PG_init(void)
{
	distance_init();
	distance_half_init();
	hybrid_init_reloptions();
	define_settings();

	/* shared counters need the preload; without it they stay per backend */
	if (process_shared_preload_libraries_in_progress)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = request_shmem;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = startup_shmem;
	}
}
