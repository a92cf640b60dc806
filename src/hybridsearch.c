/*
 * hybridsearch.c
 *	  Module entry point: module magic, settings and one-time set-up.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "distance.h"
#include "distance_half.h"
#include "hybrid.h"
#include "hybridsearch.h"

PG_MODULE_MAGIC;

int			hybridsearch_cpu_threads = 0;
bool		hybridsearch_cpu_cache = true;
int			hybridsearch_cpu_cache_size_mb = 1024;

void		_PG_init(void);

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
}
