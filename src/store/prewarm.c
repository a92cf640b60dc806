/*
 * prewarm.c
 *	  Loading copies before the first query needs them:
 *	  hybridsearch_prewarm(index), and at start-up the indexes listed in
 *	  hybridsearch.prewarm, each loaded by a background worker of its
 *	  database (with the preload).
 *
 * hybridsearch.prewarm lists database:index pairs separated by commas, the
 * index name optionally schema-qualified: 'shop:public.items_embedding_idx,
 * shop:docs_idx, wiki:pages_vec_idx'.  Each worker waits for the GPU worker
 * to have opened its devices (or to have said why it cannot), so that the
 * GPU copy is loaded too where scans would use the GPU, then loads each of
 * its database's indexes in turn and logs what it loaded and how long it
 * took.  A name that does not resolve is logged and skipped.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

#include "elapsed.h"
#include "gpu/gpu_shared.h"
#include "hybridsearch.h"
#include "index/hybrid.h"
#include "search/search.h"
#include "store/store.h"

#define PREWARM_MAX_DATABASES	16
#define GPU_SETTLE_TIMEOUT_MS	120000

PG_FUNCTION_INFO_V1(hybridsearch_prewarm);
PGDLLEXPORT void hybridsearch_prewarm_main(Datum arg);

/*
 * hybridsearch_prewarm(index): load the index's shared copy (and its GPU
 * copy where scans would use the GPU); returns the rows loaded, or NULL
 * with a NOTICE when the copy does not fit and scans stream the pages.
 */
Datum
hybridsearch_prewarm(PG_FUNCTION_ARGS)
{
	Relation	index = hybrid_open_readable(PG_GETARG_OID(0));
	int64		rows = search_prewarm(index);

	if (rows < 0 && !hybrid_kind_is_dense(hybrid_index_kind(index)))
		ereport(NOTICE,
				(errmsg("hybrid index \"%s\" over %s keeps no dense copy, so its scans read its pages",
						RelationGetRelationName(index),
						hybrid_kind_type_name(hybrid_index_kind(index)))));
	else if (rows < 0 && !hybridsearch_cpu_cache)
		ereport(NOTICE,
				(errmsg("hybridsearch.cpu_cache is off, so no dense copy of \"%s\" is kept and its scans read its pages",
						RelationGetRelationName(index))));
	else if (rows < 0)
		ereport(NOTICE,
				(errmsg("hybrid index \"%s\" does not fit the memory for dense copies, so its scans read its pages",
						RelationGetRelationName(index)),
				 errhint("Raise hybridsearch.shared_cache_size (or, without shared_preload_libraries, hybridsearch.cpu_cache_size).")));
	index_close(index, AccessShareLock);
	if (rows < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(rows);
}

/* Split "db:index, ..." into its items; false when malformed. */
static bool
prewarm_items(const char *value, List **items)
{
	char	   *copy = pstrdup(value);
	ListCell   *cell;

	if (!SplitGUCList(copy, ',', items))
		return false;
	foreach(cell, *items)
	{
		char	   *item = lfirst(cell);
		char	   *colon = strchr(item, ':');

		if (colon == NULL || colon == item || colon[1] == '\0' || colon - item >= NAMEDATALEN)
			return false;
	}
	return true;
}

bool
check_prewarm(char **newval, void **extra pg_attribute_unused(), GucSource source pg_attribute_unused())
{
	List	   *items;

	if (!prewarm_items(*newval, &items))
	{
		GUC_check_errdetail("List database:index pairs separated by commas, such as 'shop:public.items_idx'.");
		return false;
	}
	return true;
}

/* One start-up worker per database named in hybridsearch.prewarm. */
void
prewarm_register_workers(void)
{
	List	   *items;
	List	   *databases = NIL;
	ListCell   *cell;

	if (hybridsearch_prewarm_list == NULL || !prewarm_items(hybridsearch_prewarm_list, &items))
		return;
	foreach(cell, items)
	{
		char	   *item = lfirst(cell);
		char	   *database = pnstrdup(item, strchr(item, ':') - item);
		BackgroundWorker worker;

		if (list_member(databases, makeString(database)) ||
			list_length(databases) >= PREWARM_MAX_DATABASES)
			continue;
		databases = lappend(databases, makeString(database));
		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_ConsistentState;
		worker.bgw_restart_time = BGW_NEVER_RESTART;
		strlcpy(worker.bgw_library_name, "hybridsearch", BGW_MAXLEN);
		strlcpy(worker.bgw_function_name, "hybridsearch_prewarm_main", BGW_MAXLEN);
		snprintf(worker.bgw_name, BGW_MAXLEN, "hybridsearch prewarm %s", database);
		strlcpy(worker.bgw_type, "hybridsearch prewarm", BGW_MAXLEN);
		strlcpy(worker.bgw_extra, database, BGW_EXTRALEN);
		RegisterBackgroundWorker(&worker);
	}
}

/*
 * Wait until the GPU worker has opened its devices or said why not, so
 * that routing sees what scans will see.
 */
static void
wait_for_gpu_worker(void)
{
	for (int waited = 0; gpu_shared != NULL && waited < GPU_SETTLE_TIMEOUT_MS; waited += 100)
	{
		bool		settled;

		SpinLockAcquire(&gpu_shared->mutex);
		settled = gpu_shared->ready ||
			(gpu_shared->worker_procno >= 0 &&
			 strcmp(gpu_shared->status, GPU_STATUS_OPENING) != 0);
		SpinLockRelease(&gpu_shared->mutex);
		if (settled)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Load one index of this database, logging what happened. */
static void
load_one(const char *name)
{
	instr_time	start;
	double		elapsed_ms;
	Oid			index_oid;
	Relation	index;
	int64		rows;
	ElementKind kind;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	index_oid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(name)),
								 AccessShareLock, true);
	if (!OidIsValid(index_oid))
	{
		ereport(LOG, (errmsg("hybridsearch prewarm: index \"%s\" does not exist", name)));
		PopActiveSnapshot();
		CommitTransactionCommand();
		return;
	}
	INSTR_TIME_SET_CURRENT(start);
	index = hybrid_open_readable(index_oid);
	rows = search_prewarm(index);
	kind = hybrid_index_kind(index);
	index_close(index, AccessShareLock);
	elapsed_ms = ms_since(start);
	if (rows < 0 && !hybrid_kind_is_dense(kind))
		ereport(LOG, (errmsg("hybridsearch prewarm: index \"%s\" over %s keeps no dense copy",
							 name, hybrid_kind_type_name(kind))));
	else if (rows < 0)
		ereport(LOG, (errmsg("hybridsearch prewarm: index \"%s\" does not fit hybridsearch.shared_cache_size", name)));
	else
		ereport(LOG, (errmsg("hybridsearch prewarm: index \"%s\": " INT64_FORMAT " rows in %.0f ms",
							 name, rows, elapsed_ms)));
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* Load one index; an error (not a hybrid index, say) is logged, and the next goes on. */
static void
prewarm_one(const char *name)
{
	MemoryContext context = CurrentMemoryContext;

	PG_TRY();
	{
		load_one(name);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(context);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
}

void
hybridsearch_prewarm_main(Datum arg pg_attribute_unused())
{
	char		database[BGW_EXTRALEN];
	List	   *items;
	ListCell   *cell;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	strlcpy(database, MyBgworkerEntry->bgw_extra, sizeof(database));
	BackgroundWorkerInitializeConnection(database, NULL, 0);
	wait_for_gpu_worker();
	if (!prewarm_items(hybridsearch_prewarm_list, &items))
		return;
	foreach(cell, items)
	{
		char	   *item = lfirst(cell);
		char	   *colon = strchr(item, ':');

		if (strlen(database) == (Size) (colon - item) && strncmp(item, database, colon - item) == 0)
			prewarm_one(colon + 1);
	}
}
