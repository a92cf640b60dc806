/*
 * hybridsearch.c
 *	  Module entry point: module magic, settings and one-time set-up.
 */
#include "postgres.h"

#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "type/distance.h"
#include "type/distance_half.h"
#include "index/hybrid.h"
#include "index/scan_distance.h"
#include "gpu/gpu_shared.h"
#include "hybridsearch.h"
#include "search/batch_lane.h"
#include "stats/scan_stats.h"
#include "store/store.h"

PG_MODULE_MAGIC;

int			hybridsearch_cpu_threads = 0;
bool		hybridsearch_cpu_cache = true;
int			hybridsearch_cpu_cache_size_mb = 1024;
int			hybridsearch_shared_cache_size_mb = -1;
char	   *hybridsearch_prewarm_list = NULL;
int			hybridsearch_device = DEVICE_AUTO;
int			hybridsearch_gpu_min_rows = 10000;
int			hybridsearch_gpu_memory_limit_mb = 0;
char	   *hybridsearch_gpu_devices = NULL;
int			hybridsearch_gpu_parts_per_device = 1;
int			hybridsearch_gpu_launches_in_flight = GPU_MAX_LAUNCHES_IN_FLIGHT;
int			hybridsearch_gpu_timeout_ms = 30000;
int			hybridsearch_gpu_fault = GPU_FAULT_NONE;
int			hybridsearch_vacuum_fault = VACUUM_FAULT_NONE;
bool		hybridsearch_reuse_scan_distances = true;

static const struct config_enum_entry device_options[] = {
	{"auto", DEVICE_AUTO, false},
	{"cpu", DEVICE_CPU, false},
	{"gpu", DEVICE_GPU, false},
	{NULL, 0, false}
};

static const struct config_enum_entry fault_options[] = {
	{"none", GPU_FAULT_NONE, false},
	{"no_device", GPU_FAULT_NO_DEVICE, false},
	{"out_of_memory", GPU_FAULT_OUT_OF_MEMORY, false},
	{"kernel_error", GPU_FAULT_KERNEL_ERROR, false},
	{"driver_reset", GPU_FAULT_DRIVER_RESET, false},
	{"worker_exit", GPU_FAULT_WORKER_EXIT, false},
	{"cuda_segfault", GPU_FAULT_CUDA_SEGFAULT, false},
	{"cuda_abort", GPU_FAULT_CUDA_ABORT, false},
	{"cuda_hang", GPU_FAULT_CUDA_HANG, false},
	{NULL, 0, false}
};

static const struct config_enum_entry vacuum_fault_options[] = {
	{"none", VACUUM_FAULT_NONE, false},
	{"after_move", VACUUM_FAULT_AFTER_MOVE, false},
	{"mid_move", VACUUM_FAULT_MID_MOVE, false},
	{"before_truncate", VACUUM_FAULT_BEFORE_TRUNCATE, false},
	{NULL, 0, false}
};

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static object_access_hook_type prev_object_access_hook = NULL;

static void
request_shmem(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	scan_stats_request_shmem();
	batch_lane_request_shmem();
	gpu_shared_request();
	store_request_shmem();
}

static void
startup_shmem(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	scan_stats_init_shmem();
	batch_lane_init_shmem();
	gpu_shared_init();
	store_init_shmem();
}

/*
 * DROP INDEX: its shared copy goes now, not when memory runs short.  (A
 * drop that rolls back only costs a reload.)
 */
static void
object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, class_id, object_id, sub_id, arg);
	if (access == OAT_DROP && class_id == RelationRelationId && sub_id == 0 &&
		get_rel_relkind(object_id) == RELKIND_INDEX)
		store_forget_index(object_id);
}

static bool
check_gpu_devices(char **newval, void **extra pg_attribute_unused(), GucSource source pg_attribute_unused())
{
	int			devices[GPU_MAX_DEVICES];
	int			count;

	if (!gpu_parse_devices(*newval, devices, &count))
	{
		GUC_check_errdetail("Give \"all\" or distinct device numbers 0 to %d separated by commas.",
							GPU_MAX_DEVICES - 1);
		return false;
	}
	return true;
}

static void
define_settings(void)
{
	DefineCustomIntVariable("hybridsearch.cpu_threads",
							"Threads one CPU index scan computes distances with.",
							"0 uses every online CPU.",
							&hybridsearch_cpu_threads, 0, 0, 64,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("hybridsearch.cpu_batching",
							 "Lets concurrent CPU scans of one index share one pass over its shared copy.",
							 "Needs the preload. A scan that finds no pass running starts its own at once.",
							 &hybridsearch_cpu_batching, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("hybridsearch.cpu_cache",
							 "Keeps dense copies of hybrid indexes in memory between scans.",
							 "Off streams the index pages on every scan.",
							 &hybridsearch_cpu_cache, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("hybridsearch.cpu_cache_size",
							"Memory one backend may keep in private dense copies of hybrid indexes, "
							"when no shared copies are kept.",
							"Without the preload (or with shared_cache_size = 0). Copies beyond it are evicted, "
							"least recently used first; an index larger than it is streamed from its pages "
							"on every scan; 0 streams every scan.",
							&hybridsearch_cpu_cache_size_mb, 1024, 0, INT_MAX / 2,
							PGC_SUSET, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomEnumVariable("hybridsearch.device",
							 "Where hybrid index scans run: auto, cpu or gpu.",
							 "auto takes the GPU for indexes of at least hybridsearch.gpu_min_rows rows "
							 "when the GPU worker has a device; gpu always tries it first.",
							 &hybridsearch_device, DEVICE_AUTO, device_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("hybridsearch.gpu_min_rows",
							"Rows from which hybridsearch.device = auto searches on the GPU.",
							NULL,
							&hybridsearch_gpu_min_rows, 10000, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("hybridsearch.gpu_memory_limit",
							"GPU memory the worker may fill with index copies.",
							"Beyond it, copies are evicted least recently used first; 0 means the device's memory.",
							&hybridsearch_gpu_memory_limit_mb, 0, 0, INT_MAX / 2,
							PGC_SIGHUP, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomStringVariable("hybridsearch.gpu_devices",
							   "CUDA devices the GPU worker uses: all, or a list of device numbers such as 0,2.",
							   "Every index copy is split in stripes over them and searched on all at once.",
							   &hybridsearch_gpu_devices, "all",
							   PGC_SIGHUP, GUC_LIST_INPUT, check_gpu_devices, NULL, NULL);
	DefineCustomIntVariable("hybridsearch.gpu_parts_per_device",
							"Parts each GPU holds of every index copy.",
							"Above 1, one GPU takes the multi-GPU path: the parts are searched in turn and merged.",
							&hybridsearch_gpu_parts_per_device, 1, 1, GPU_MAX_PARTS_PER_DEVICE,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("hybridsearch.gpu_launches_in_flight",
							"GPU launches the worker keeps started at once.",
							"2 starts the next batch shortly before the last one ends, so the GPU need not wait "
							"for the worker between them; 1 waits for each launch before starting the next.",
							&hybridsearch_gpu_launches_in_flight, GPU_MAX_LAUNCHES_IN_FLIGHT, 1,
							GPU_MAX_LAUNCHES_IN_FLIGHT, PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("hybridsearch.gpu_timeout",
							"How long a backend waits for the GPU worker before using the CPU.",
							"The worker's own value also bounds each CUDA call: past it, the worker kills its CUDA host process and starts another.",
							&hybridsearch_gpu_timeout_ms, 30000, 10, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("hybridsearch.reuse_scan_distances",
							 "Takes each row's ORDER BY distance from the hybrid index scan that ordered it.",
							 "Off computes it again for every row the scan returns, as the executor does by "
							 "default. Applies to queries planned after it changes.",
							 &hybridsearch_reuse_scan_distances, true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("hybridsearch.gpu_fault",
							 "Forces a GPU failure, for testing the fallback to the CPU.",
							 NULL,
							 &hybridsearch_gpu_fault, GPU_FAULT_NONE, fault_options,
							 PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	DefineCustomEnumVariable("hybridsearch.vacuum_fault",
							 "Kills the backend at a point of VACUUM's compaction, for testing crash recovery.",
							 NULL,
							 &hybridsearch_vacuum_fault, VACUUM_FAULT_NONE, vacuum_fault_options,
							 PGC_SUSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	MarkGUCPrefixReserved("hybridsearch");
}

/* Settings read at server start: they exist only with the preload. */
static void
define_start_settings(void)
{
	DefineCustomIntVariable("hybridsearch.shared_cache_size",
							"Shared memory for the one dense copy of each hybrid index that every backend reads.",
							"Set at server start, with hybridsearch in shared_preload_libraries. "
							"-1 takes a quarter of the machine's memory; 0 keeps no shared copies. "
							"Copies beyond it are evicted, least recently used first; an index "
							"larger than it is streamed from its pages on every scan.",
							&hybridsearch_shared_cache_size_mb, -1, -1, INT_MAX / 2,
							PGC_POSTMASTER, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomStringVariable("hybridsearch.prewarm",
							   "Hybrid indexes loaded in the background at server start, as database:index pairs.",
							   "Their shared copies (and GPU copies, where scans would use the GPU) are loaded "
							   "so that the first queries do not wait for them. Needs the preload.",
							   &hybridsearch_prewarm_list, "",
							   PGC_POSTMASTER, GUC_LIST_INPUT, check_prewarm, NULL, NULL);
}

void
_PG_init(void)
{
	distance_init();
	distance_half_init();
	hybrid_init_reloptions();
	/* start-up settings first: reserving the prefix drops placeholders */
	if (process_shared_preload_libraries_in_progress)
		define_start_settings();
	define_settings();

	/*
	 * Shared counters and the GPU worker need the preload; without it the
	 * counters stay per backend and every scan runs on the CPU.
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		gpu_worker_register();
		prewarm_register_workers();
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = request_shmem;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = startup_shmem;
	}
	prev_object_access_hook = object_access_hook;
	object_access_hook = object_access;
	scan_distance_init();
	scan_distance_plan_init();
}
