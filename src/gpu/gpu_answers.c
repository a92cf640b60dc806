/*
 * gpu_answers.c
 *	  Publishing a round's answers: each request's outcome into its slot,
 *	  the slot DONE (or freed, when its backend left), the backend's latch
 *	  set (gpu_answers.h).
 *
 * A launch's answers go out when it finishes (gpu_launches.c), just after
 * the next launch has started.  The rest of a round's outcomes (rows
 * needed, failures, appends) are held the same way: when more requests
 * are waiting by the round's end, the worker publishes them just after it
 * has started the next launch, so that waking their backends (a signal
 * each) runs while the GPU works.  When nothing is waiting, or the next
 * round launches nothing, they go out at once.
 */
#include "postgres.h"

#include "storage/latch.h"
#include "storage/proc.h"

#include "elapsed.h"
#include "gpu/gpu_answers.h"

typedef struct HeldRound
{
	int			count;			/* 0: none held */
	instr_time	taken;			/* when the worker took its requests */
	GpuSlot		requests[GPU_SLOTS];
} HeldRound;

static HeldRound held;

/*
 * Hold outcomes of the round taken at taken (each request answers its
 * slot, request->number), beside those held already: a launch's answers,
 * then the round's others.
 */
void
answers_hold(const GpuSlot *requests, int count, instr_time taken)
{
	Assert(held.count + count <= GPU_SLOTS);
	memcpy(held.requests + held.count, requests, sizeof(GpuSlot) * count);
	if (held.count == 0)
		held.taken = taken;
	held.count += count;
}

bool
answers_held(void)
{
	return held.count > 0;
}

/*
 * Publish count outcomes (each request answers its slot) of requests taken
 * at taken, and wake their backends.
 */
void
answers_publish_now(const GpuSlot *requests, int count, instr_time taken)
{
	int			owners[GPU_SLOTS];
	int			wake = 0;
	double		worker_ms;

	if (count == 0)
		return;
	worker_ms = ms_since(taken);
	SpinLockAcquire(&gpu_shared->mutex);
	for (int i = 0; i < count; i++)
	{
		const GpuSlot *request = &requests[i];
		GpuSlot    *slot = &gpu_shared->slots[request->number];

		slot->outcome = request->outcome;
		slot->resident_rows = request->resident_rows;
		slot->kernel_ms = request->kernel_ms;
		slot->host_ms = request->host_ms;
		slot->worker_ms = worker_ms;
		slot->batch_size = request->batch_size;
		strlcpy(slot->message, request->message, GPU_MESSAGE_LEN);
		if (slot->abandoned)
			slot->state = GPU_SLOT_FREE;
		else
		{
			slot->state = GPU_SLOT_DONE;
			owners[wake++] = slot->owner_procno;
		}
	}
	SpinLockRelease(&gpu_shared->mutex);
	for (int i = 0; i < wake; i++)
		SetLatch(&ProcGlobal->allProcs[owners[i]].procLatch);
}

/* Publish the outcomes held, if any. */
void
answers_publish(void)
{
	int			count = held.count;

	held.count = 0;
	answers_publish_now(held.requests, count, held.taken);
}
