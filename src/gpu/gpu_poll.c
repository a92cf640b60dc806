/*
 * gpu_poll.c
 *	  Bounded polls of the GPU request slots in place of a latch's wake-up
 *	  (gpu_poll.h), where spin_policy.h allows them.
 *
 * A GPU request makes two hand-offs through latches, backend to worker
 * and back; a latch wakes a sleeping process through a signal and the
 * scheduler.  So the worker polls for the next request for a while after
 * each round, which catches a client that comes straight back, and a
 * backend polls for its answer before it sleeps, when so few requests are
 * in flight that the pollers leave most CPUs to the rest.  The slots'
 * states are read without the mutex, as a hint: the caller reads them
 * again under it.
 */
#include "postgres.h"

#include "port/atomics.h"
#include "storage/s_lock.h"

#include "elapsed.h"
#include "gpu/gpu_poll.h"
#include "gpu/gpu_shared.h"
#include "gpu/spin_policy.h"

/* Slots in a state, read without the mutex. */
static int
slots_in_state(GpuSlotState state)
{
	int			count = 0;

	for (int i = 0; i < GPU_SLOTS; i++)
	{
		volatile GpuSlot *slot = &gpu_shared->slots[i];

		count += slot->state == state;
	}
	return count;
}

static bool
slots_answered(const int *slot_numbers, int count)
{
	for (int i = 0; i < count; i++)
	{
		volatile GpuSlot *slot = &gpu_shared->slots[slot_numbers[i]];

		if (slot->state != GPU_SLOT_DONE)
			return false;
	}
	return true;
}

/* Whether a request is submitted now, by a look without the mutex. */
bool
gpu_requests_waiting(void)
{
	bool		waiting = slots_in_state(GPU_SLOT_SUBMITTED) > 0;

	pg_read_barrier();
	return waiting;
}

/* Whether a request was submitted within poll_us. */
bool
gpu_poll_submitted(int poll_us)
{
	instr_time	start;

	if (spin_cpus() < SPIN_MIN_CPUS)
		return false;
	INSTR_TIME_SET_CURRENT(start);
	do
	{
		if (gpu_requests_waiting())
			return true;
		pg_spin_delay();
	} while (ms_since(start) * 1000.0 < poll_us);
	return false;
}

/*
 * Whether the worker answered every slot within poll_us; false at once
 * when more requests are in flight than a quarter of the CPUs.
 */
bool
gpu_poll_answered(const int *slot_numbers, int count, int poll_us)
{
	instr_time	start;

	if (spin_cpus() < SPIN_MIN_CPUS ||
		GPU_SLOTS - slots_in_state(GPU_SLOT_FREE) > spin_cpus() / 4)
		return false;
	INSTR_TIME_SET_CURRENT(start);
	do
	{
		if (slots_answered(slot_numbers, count))
		{
			pg_read_barrier();
			return true;
		}
		pg_spin_delay();
	} while (ms_since(start) * 1000.0 < poll_us);
	return false;
}
