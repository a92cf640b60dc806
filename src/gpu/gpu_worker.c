/*
 * gpu_worker.c
 *	  The GPU worker: the one process that serves backends' GPU requests,
 *	  through its CUDA host process, which holds the CUDA context and the
 *	  index copies resident in GPU memory.
 *
 * Started by the preload (shared_preload_libraries = 'hybridsearch').  It
 * connects to no database and runs no SQL: backends send it rows and
 * queries through request slots (gpu_shared.h).  Each round it takes every
 * submitted request, applies appends (gpu_append.c), groups the searches of the same
 * matrix, metric and k into one launch, and answers.  Matrices are evicted
 * least recently used first beyond hybridsearch.gpu_memory_limit
 * (gpu_resident.h).
 *
 * The worker never loads the CUDA module: a child process does every CUDA
 * call (cuda_host.h), so a crash or hang in CUDA code costs the GPU
 * copies and a restart of that child, never the server.  Without the
 * module or a device the child still runs and the worker answers every
 * request with the reason, so backends fall back to the CPU with it.
 */
#include "postgres.h"

#include <signal.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"

#include "elapsed.h"
#include "gpu/cuda_host.h"
#include "gpu/cuda_host_channel.h"
#include "gpu/gpu_answers.h"
#include "gpu/gpu_launches.h"
#include "gpu/gpu_poll.h"
#include "gpu/gpu_resident.h"
#include "gpu/gpu_shared.h"
#include "gpu/gpu_worker.h"
#include "hybridsearch.h"

PGDLLEXPORT void hybridsearch_gpu_worker_main(Datum arg);

static bool device_open = false;
int			worker_device_count = 0;
int			worker_devices[GPU_MAX_DEVICES];
int			worker_parts = 1;
/* the settings the devices were opened with */
static char *opened_devices = NULL;
static int	opened_parts_per_device = 1;

/* worker_devices[] and worker_device_count from hybridsearch.gpu_devices; false and why not */
static bool
choose_devices(char *message)
{
	int			visible;

	if (cuda_host_device_count(&visible, message) != HS_GPU_OK)
		return false;
	if (visible < 1)
	{
		strlcpy(message, "no CUDA device is visible", GPU_MESSAGE_LEN);
		return false;
	}
	if (!gpu_parse_devices(hybridsearch_gpu_devices, worker_devices, &worker_device_count))
		elog(ERROR, "hybridsearch.gpu_devices passed its check but does not parse");
	if (worker_device_count == 0)
	{
		worker_device_count = Min(visible, GPU_MAX_DEVICES);
		for (int i = 0; i < worker_device_count; i++)
			worker_devices[i] = i;
	}
	for (int i = 0; i < worker_device_count; i++)
	{
		if (worker_devices[i] >= visible)
		{
			snprintf(message, GPU_MESSAGE_LEN,
					 "hybridsearch.gpu_devices names device %d, but %d device(s) are visible",
					 worker_devices[i], visible);
			return false;
		}
	}
	return true;
}

/* Publish the open devices for hybridsearch_gpu_status(). */
static void
publish_devices(void)
{
	SpinLockAcquire(&gpu_shared->mutex);
	gpu_shared->device_count = device_open ? worker_device_count : 0;
	memcpy(gpu_shared->devices, worker_devices, sizeof(int) * worker_device_count);
	gpu_shared->parts = device_open ? worker_parts : 0;
	SpinLockRelease(&gpu_shared->mutex);
}

/* "GPUs 0,1 ready, 2 parts per index" */
static void
describe_devices(char *message)
{
	StringInfoData text;

	initStringInfo(&text);
	appendStringInfo(&text, "GPU%s ", worker_device_count > 1 ? "s" : "");
	for (int i = 0; i < worker_device_count; i++)
		appendStringInfo(&text, "%s%d", i > 0 ? "," : "", worker_devices[i]);
	appendStringInfo(&text, " ready, %d part%s per index", worker_parts, worker_parts > 1 ? "s" : "");
	strlcpy(message, text.data, GPU_MESSAGE_LEN);
	pfree(text.data);
}

static void
set_status(bool ready, const char *status)
{
	gpu_shared_set_status(ready, status);
	ereport(LOG, (errmsg("hybridsearch GPU worker: %s", status)));
}

/* Start a CUDA host if none runs, load the module in it and open the devices. */
static void
open_devices(void)
{
	char		message[GPU_MESSAGE_LEN];

	if ((!cuda_host_running() && !cuda_host_start(message)) ||
		cuda_host_load(message) != HS_GPU_OK || !choose_devices(message))
	{
		set_status(false, message);
		return;
	}
	for (int i = 0; i < worker_device_count; i++)
	{
		if (cuda_host_open(worker_devices[i], message) != HS_GPU_OK)
		{
			cuda_host_close();
			set_status(false, message);
			return;
		}
	}
	device_open = true;
	worker_parts = Min(worker_device_count * hybridsearch_gpu_parts_per_device, GPU_MAX_PARTS);
	publish_devices();
	describe_devices(message);
	set_status(true, message);
}

/* Nothing is open and nothing resident: what a new CUDA host starts from. */
static void
forget_devices(void)
{
	gpu_resident_forget_all();
	gpu_resident_publish();
	device_open = false;
	publish_devices();
}

/*
 * After a sticky CUDA error or new settings: start over in a new CUDA
 * host, so nothing of the old contexts, buffers or threads survives.
 */
void
worker_reset_devices(const char *reason)
{
	launches_finish_all();
	ereport(LOG, (errmsg("hybridsearch GPU worker: restarting the CUDA host process after: %s",
						 reason)));
	cuda_host_stop();
	forget_devices();
	open_devices();
}

/*
 * A CUDA host that died took its matrices with it: forget them, say so,
 * and start another when its back-off has passed.
 */
static void
watch_host(void)
{
	char		message[GPU_MESSAGE_LEN];

	if (cuda_host_take_death(message))
	{
		launches_finish_all();	/* they fail, with the host's death */
		forget_devices();
		gpu_shared_set_status(false, message); /* cuda_host.c logged it */
	}
	if (cuda_host_restart_due() == 0)
		open_devices();
}

/* Answer a request as failed, with why. */
void
worker_fail(GpuSlot *request, const char *message)
{
	request->outcome = GPU_OUTCOME_FAILED;
	strlcpy(request->message, message, GPU_MESSAGE_LEN);
}

/* A fault of the CUDA host: it receives the request and dies, or hangs. */
static void
act_out_host_fault(GpuSlot *request)
{
	char		message[GPU_MESSAGE_LEN];
	HostFault	fault = request->fault == GPU_FAULT_CUDA_SEGFAULT ? HOST_FAULT_SEGFAULT :
		request->fault == GPU_FAULT_CUDA_ABORT ? HOST_FAULT_ABORT : HOST_FAULT_HANG;

	if (cuda_host_fault(fault, message) == HS_GPU_OK)
		strlcpy(message, "the CUDA host process survived an injected fault", GPU_MESSAGE_LEN);
	worker_fail(request, message);
}

/* The faults a test asked for; true when one was acted out. */
static bool
act_out_fault(GpuSlot *request)
{
	const char *message = NULL;

	switch (request->fault)
	{
		case GPU_FAULT_NONE:
			return false;
		case GPU_FAULT_NO_DEVICE:
			message = "no CUDA device (injected fault)";
			break;
		case GPU_FAULT_OUT_OF_MEMORY:
			message = "out of GPU memory (injected fault)";
			break;
		case GPU_FAULT_KERNEL_ERROR:
			message = "a GPU kernel failed (injected fault)";
			break;
		case GPU_FAULT_DRIVER_RESET:
			if (device_open)
				worker_reset_devices("a driver reset (injected fault)");
			message = "the GPU driver was reset (injected fault)";
			break;
		case GPU_FAULT_WORKER_EXIT:
			ereport(LOG, (errmsg("hybridsearch GPU worker: exiting (injected fault)")));
			proc_exit(1);
		case GPU_FAULT_CUDA_SEGFAULT:
		case GPU_FAULT_CUDA_ABORT:
		case GPU_FAULT_CUDA_HANG:
			act_out_host_fault(request);
			return true;
	}
	worker_fail(request, message);
	return true;
}

/*
 * Searches of one matrix, metric and k, in one launch (gpu_launches.c):
 * those whose rows are all on the GPU; the others NEED_ROWS.  batch is in
 * order of submission, oldest first.  Whether a launch started.
 */
static bool
handle_search_batch(GpuSlot **batch, int count, instr_time taken)
{
	GpuSlot    *first = batch[0];
	ResidentMatrix *entry = gpu_resident_find(&first->key, first->epoch);
	GpuSlot    *ready[GPU_SLOTS];
	int			searched = 0;

	for (int i = 0; i < count; i++)
	{
		GpuSlot    *request = batch[i];

		request->resident_rows = entry ? gpu_resident_rows(entry) : 0;
		if (entry == NULL || request->resident_rows < request->row_count)
		{
			request->outcome = GPU_OUTCOME_NEED_ROWS;
			continue;
		}
		ready[searched++] = request;
	}
	return searched > 0 && launch_search(entry, ready, searched, taken);
}

/* order[] = the indexes of requests, oldest submission first (insertion sort: a round is small) */
static void
order_by_submission(const GpuSlot *requests, int count, int *order)
{
	for (int i = 0; i < count; i++)
	{
		int			j = i;

		for (; j > 0 && requests[order[j - 1]].submitted > requests[i].submitted; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
}

/*
 * Drop from the round the requests answered elsewhere: the DEFERRED ones
 * go back to the next round (SUBMITTED again, or freed if their backends
 * left meanwhile), the LAUNCHED ones are their launch's to answer; the
 * count left.
 */
static int
drop_not_answered_here(GpuSlot *requests, int count)
{
	int			kept = 0;
	bool		deferred = false;

	for (int i = 0; i < count; i++)
		deferred |= requests[i].outcome == GPU_OUTCOME_DEFERRED;
	if (deferred)
	{
		SpinLockAcquire(&gpu_shared->mutex);
		for (int i = 0; i < count; i++)
		{
			GpuSlot    *slot = &gpu_shared->slots[requests[i].number];

			if (requests[i].outcome == GPU_OUTCOME_DEFERRED)
				slot->state = slot->abandoned ? GPU_SLOT_FREE : GPU_SLOT_SUBMITTED;
		}
		SpinLockRelease(&gpu_shared->mutex);
	}
	for (int i = 0; i < count; i++)
	{
		if (requests[i].outcome == GPU_OUTCOME_DEFERRED ||
			requests[i].outcome == GPU_OUTCOME_LAUNCHED)
			continue;
		requests[kept++] = requests[i];
	}
	return kept;
}

static bool
same_batch(const GpuSlot *a, const GpuSlot *b)
{
	return memcmp(&a->key, &b->key, sizeof(GpuMatrixKey)) == 0 &&
		a->epoch == b->epoch && a->metric == b->metric && a->k == b->k;
}

/*
 * Answer every request that has come in; whether there was any.  When
 * more requests wait by the round's end, its answers are held until the
 * next round's launch has started (gpu_answers.c).  A round between the
 * chunks of an append takes searches only, and answers at once.
 */
bool
worker_serve_requests(bool between_chunks)
{
	GpuSlot		requests[GPU_SLOTS];
	int			order[GPU_SLOTS];
	GpuSlot    *batch[GPU_SLOTS];
	bool		handled[GPU_SLOTS] = {0};
	bool		launched = false;
	int			count = 0;
	instr_time	taken;

	INSTR_TIME_SET_CURRENT(taken);
	SpinLockAcquire(&gpu_shared->mutex);
	for (int i = 0; i < GPU_SLOTS; i++)
	{
		if (gpu_shared->slots[i].state == GPU_SLOT_SUBMITTED &&
			!(between_chunks && gpu_shared->slots[i].kind == GPU_REQUEST_APPEND))
		{
			gpu_shared->slots[i].state = GPU_SLOT_RUNNING;
			requests[count++] = gpu_shared->slots[i];
		}
	}
	SpinLockRelease(&gpu_shared->mutex);
	if (count == 0)
	{
		launches_finish_all();
		answers_publish();
		return false;
	}
	order_by_submission(requests, count, order);

	for (int i = 0; i < count; i++)
	{
		if (requests[i].kind == GPU_REQUEST_SEARCH && requests[i].fault == GPU_FAULT_NONE &&
			device_open)
			continue;
		/* appends and faults may take long, and use the CUDA host alone */
		launches_finish_all();
		answers_publish();
		if (act_out_fault(&requests[i]))
			handled[i] = true;
		else if (!device_open)
		{
			SpinLockAcquire(&gpu_shared->mutex);
			worker_fail(&requests[i], gpu_shared->status);
			SpinLockRelease(&gpu_shared->mutex);
			handled[i] = true;
		}
		else if (requests[i].kind == GPU_REQUEST_APPEND)
		{
			worker_handle_append(&requests[i]);
			handled[i] = true;
		}
	}
	for (int oi = 0; oi < count; oi++)
	{
		int			i = order[oi],
					size = 0;

		if (handled[i])
			continue;
		for (int oj = oi; oj < count; oj++)
		{
			int			j = order[oj];

			if (!handled[j] && same_batch(&requests[i], &requests[j]))
			{
				batch[size++] = &requests[j];
				handled[j] = true;
			}
		}
		launched |= handle_search_batch(batch, size, taken);
	}
	count = drop_not_answered_here(requests, count);
	gpu_resident_publish();

	/* a launch published what was held before it; what it held waits for the next */
	if (!launched)
		answers_publish();
	answers_hold(requests, count, taken);
	/*
	 * A launch in flight is answered after the next has started
	 * (launches_pace), but an append resumes after a round between its
	 * chunks: nothing may wait through it.
	 */
	if (between_chunks)
		launches_finish_all();
	if (between_chunks || !gpu_requests_waiting())
		answers_publish();
	return true;
}

/*
 * Announce this worker; requests a previous incarnation left running are
 * answered as failed, so their backends fall back at once.
 */
static void
announce(void)
{
	int			owners[GPU_SLOTS];
	int			wake = 0;

	SpinLockAcquire(&gpu_shared->mutex);
	gpu_shared->worker_procno = MyProc->pgprocno;
	gpu_shared->incarnation++;
	gpu_shared->ready = false;
	strlcpy(gpu_shared->status, GPU_STATUS_OPENING, GPU_MESSAGE_LEN);
	gpu_shared->resident_count = 0;
	for (int i = 0; i < GPU_SLOTS; i++)
	{
		GpuSlot    *slot = &gpu_shared->slots[i];

		if (slot->state != GPU_SLOT_RUNNING)
			continue;
		slot->outcome = GPU_OUTCOME_FAILED;
		strlcpy(slot->message, "the GPU worker restarted", GPU_MESSAGE_LEN);
		slot->state = slot->abandoned ? GPU_SLOT_FREE : GPU_SLOT_DONE;
		if (!slot->abandoned)
			owners[wake++] = slot->owner_procno;
	}
	SpinLockRelease(&gpu_shared->mutex);
	for (int i = 0; i < wake; i++)
		SetLatch(&ProcGlobal->allProcs[owners[i]].procLatch);
}

static void
depart(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	SpinLockAcquire(&gpu_shared->mutex);
	gpu_shared->worker_procno = -1;
	gpu_shared->ready = false;
	strlcpy(gpu_shared->status, "the GPU worker is not running", GPU_MESSAGE_LEN);
	gpu_shared->resident_count = 0;
	SpinLockRelease(&gpu_shared->mutex);
}

/* After a reload: new devices or parts per device start over with them. */
static void
reopen_if_devices_changed(void)
{
	if (strcmp(opened_devices, hybridsearch_gpu_devices) == 0 &&
		opened_parts_per_device == hybridsearch_gpu_parts_per_device)
		return;
	pfree(opened_devices);
	opened_devices = pstrdup(hybridsearch_gpu_devices);
	opened_parts_per_device = hybridsearch_gpu_parts_per_device;
	worker_reset_devices("a change of hybridsearch.gpu_devices or hybridsearch.gpu_parts_per_device");
}

void
hybridsearch_gpu_worker_main(Datum arg pg_attribute_unused())
{
	bool		served = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	/* the CUDA host's exit is reaped with waitpid; a dead host's pipe must not kill us */
	pqsignal(SIGCHLD, SIG_DFL);
	pqsignal(SIGPIPE, SIG_IGN);
	BackgroundWorkerUnblockSignals();

	gpu_resident_init();
	on_shmem_exit(depart, 0);
	announce();
	open_devices();
	opened_devices = pstrdup(hybridsearch_gpu_devices);
	opened_parts_per_device = hybridsearch_gpu_parts_per_device;

	for (;;)
	{
		long		restart = cuda_host_restart_due();

		/*
		 * Held answers and launches in flight mean requests wait; a client
		 * that comes straight back is polled for (gpu_poll.c).
		 */
		if (!answers_held() && !launches_in_flight() &&
			!(served && device_open && gpu_poll_submitted(GPU_NEXT_REQUEST_POLL_US)))
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 restart < 0 ? 1000 : Min(restart, 1000), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			reopen_if_devices_changed();
		}
		launches_pace();
		served = worker_serve_requests(false);
		watch_host();
	}
}
