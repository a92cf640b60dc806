/*
 * gpu_shared.h
 *	  What backends and the GPU worker share: request slots in shared
 *	  memory, the worker's state, and the list of GPU-resident matrices.
 *
 * A backend claims a free slot, writes a search's query into the slot's
 * buffer (beside the slots, in the same shared memory: no segment to
 * create or attach per search), marks it SUBMITTED and sets the worker's
 * latch; the worker marks it RUNNING, writes the answer into the buffer,
 * marks it DONE and sets the backend's latch.  Rows to append come from
 * the shared copy, or, for private copies, in a dynamic shared memory
 * segment the backend creates.  A backend that leaves while its request
 * runs (cancel, error) marks the slot abandoned, and the worker frees it.
 * Everything here is protected by the mutex.  The CUDA calls themselves
 * run in the worker's child process, the CUDA host (cuda_host.h), which
 * shares none of this.
 */
#ifndef HYBRIDSEARCH_GPU_SHARED_H
#define HYBRIDSEARCH_GPU_SHARED_H

#include "storage/dsm.h"
#include "storage/relfilenode.h"
#include "storage/spin.h"

#include "hs_gpu.h"
#include "type/vector_parse.h"

#define GPU_SLOTS				64
#define GPU_MESSAGE_LEN			256
#define GPU_RESIDENT_MAX		256
#define GPU_MAX_DEVICES			HS_GPU_MAX_DEVICES
#define GPU_MAX_PARTS_PER_DEVICE 8
#define GPU_MAX_LAUNCHES_IN_FLIGHT 2	/* the CUDA module's lanes, HS_GPU_LANES */
#define GPU_MAX_PARTS			HS_GPU_MAX_PARTS
/* what the worker's status says while it opens its devices */
#define GPU_STATUS_OPENING		"the GPU worker is opening the devices"
/* the largest K of one search: the CUDA module's limit */
#define GPU_MAX_K				4096
/* the longest query a slot's buffer holds: the vector type's limit */
#define GPU_QUERY_MAX_DIM		VECTOR_MAX_DIM

/* rows of one append request: bounded so its segment stays modest */
#define GPU_APPEND_BYTES		(64 * 1024 * 1024)

typedef enum GpuSlotState
{
	GPU_SLOT_FREE = 0,
	GPU_SLOT_CLAIMED,			/* its backend writes the request */
	GPU_SLOT_SUBMITTED,
	GPU_SLOT_RUNNING,
	GPU_SLOT_DONE
} GpuSlotState;

typedef enum GpuRequestKind
{
	GPU_REQUEST_APPEND = 1,		/* rows [first_row, first_row + row_count) */
	GPU_REQUEST_SEARCH = 2		/* top k of one query */
} GpuRequestKind;

typedef enum GpuOutcome
{
	GPU_OUTCOME_OK = 0,
	GPU_OUTCOME_NEED_ROWS,		/* resident_rows tells where appends resume */
	GPU_OUTCOME_FAILED,			/* message says why; fall back to the CPU */
	GPU_OUTCOME_DEFERRED,		/* the worker's own: left for a later launch */
	GPU_OUTCOME_LAUNCHED		/* the worker's own: its launch, in flight, answers it */
} GpuOutcome;

/* hybridsearch.gpu_fault: failures tests can force */
typedef enum GpuFault
{
	GPU_FAULT_NONE = 0,
	GPU_FAULT_NO_DEVICE,
	GPU_FAULT_OUT_OF_MEMORY,
	GPU_FAULT_KERNEL_ERROR,
	GPU_FAULT_DRIVER_RESET,
	GPU_FAULT_WORKER_EXIT,
	GPU_FAULT_CUDA_SEGFAULT,	/* the CUDA host process dies of SIGSEGV */
	GPU_FAULT_CUDA_ABORT,		/* the CUDA host process aborts */
	GPU_FAULT_CUDA_HANG			/* the CUDA host process stops answering */
} GpuFault;

/* Which matrix: an index's relfilenode, in one database, at one precision. */
typedef struct GpuMatrixKey
{
	Oid			database;
	RelFileNode node;
	int32		dim;
	int32		half;			/* bool, as int32 to leave no padding */
} GpuMatrixKey;

typedef struct GpuSlot
{
	GpuSlotState state;
	bool		abandoned;
	int			number;			/* its place in the slots, and its buffer's */
	int			owner_procno;	/* whose latch to set */
	uint64		submitted;		/* the order of submission: older first */
	/* the request */
	GpuRequestKind kind;
	GpuFault	fault;
	GpuMatrixKey key;
	uint32		epoch;			/* the row numbering of the index's copy */
	int			metric;
	int			k;
	int64		first_row;
	int64		row_count;
	dsm_handle	segment;		/* private rows of an append; else invalid */
	/* the answer */
	GpuOutcome	outcome;
	int64		resident_rows;
	float		kernel_ms;		/* the launch's kernels, by CUDA events */
	float		host_ms;		/* its launch in the CUDA host, from start to answer */
	float		worker_ms;		/* from the worker taking it to its answer */
	int			batch_size;		/* queries searched in the same launch */
	char		message[GPU_MESSAGE_LEN];
} GpuSlot;

/* A slot's search: the query in, the top K out. */
typedef struct GpuSearchBuffer
{
	float		query[GPU_QUERY_MAX_DIM];
	float		distances[GPU_MAX_K];
	int64		rows[GPU_MAX_K];
} GpuSearchBuffer;

typedef struct GpuResident
{
	GpuMatrixKey key;
	int64		rows;
	int64		bytes;
} GpuResident;

typedef struct GpuShared
{
	slock_t		mutex;
	int			worker_procno;	/* -1 while no worker runs */
	uint32		incarnation;	/* bumped by each worker start */
	bool		ready;			/* the devices are open */
	char		status[GPU_MESSAGE_LEN];
	int			device_count;	/* devices open */
	int			devices[GPU_MAX_DEVICES];
	int			parts;			/* stripes of every index copy */
	GpuSlot		slots[GPU_SLOTS];
	uint64		submissions;	/* requests submitted, for GpuSlot.submitted */
	int			resident_count;
	GpuResident resident[GPU_RESIDENT_MAX];
} GpuShared;

extern GpuShared *gpu_shared;
extern GpuSearchBuffer *gpu_search_buffers;	/* GPU_SLOTS of them */

extern void gpu_shared_request(void);
extern void gpu_shared_init(void);
extern void gpu_worker_register(void);
extern bool gpu_parse_devices(const char *value, int *devices, int *count);
extern bool gpu_would_route(int64 rows);
extern void gpu_resident_usage(Oid database, RelFileNode node, int64 *rows, int64 *bytes);
extern void gpu_shared_set_status(bool ready, const char *status);


#endif							/* HYBRIDSEARCH_GPU_SHARED_H */
