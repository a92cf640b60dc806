/*
 * batch_lane.c
 *	  Lanes of concurrent searches sharing batched passes (batch_lane.h).
 *
 * Slots carry a query to the lane's leader and its candidates back.  One
 * lock guards every lane and slot (each hold is a few assignments); the
 * pass itself runs without it.  A search that cannot join (no free lane or
 * slot, a query too long for a slot) runs alone.  If the leader fails, the
 * searches it served run alone; if a waiting search fails, its slot is
 * freed by it or, when a leader holds it, by that leader.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "search/batch_lane.h"
#include "search/batch_pass.h"
#include "search/blas.h"

#define LANE_COUNT				16
#define LANE_SLOTS				64
#define LANE_MAX_DIM			4096
#define GATHER_MAX_MS			1.0 /* the longest a leader gathers company */
#define JOIN_MIN_PASS_MS		2.0 /* shorter passes: run alone, do not queue */

typedef enum SlotState
{
	SLOT_FREE = 0,
	SLOT_QUEUED,				/* waits for the lane's next pass */
	SLOT_TAKEN,					/* in the pass a leader runs */
	SLOT_DONE,					/* candidates written */
	SLOT_FAILED,				/* the leader failed: run alone */
	SLOT_ABANDONED				/* its search failed while taken */
} SlotState;

typedef struct LaneKey
{
	uint64		copy_id;
	int			copy_slot;
	int			metric;
} LaneKey;

typedef struct Lane
{
	bool		in_use;			/* holds a key: kept while idle, for its timings */
	bool		running;		/* a pass runs for it, or its leader gathers */
	LaneKey		key;
	int			queue_head;		/* queued slots, linked by next; -1 */
	int			queue_tail;
	int			queued;
	int			last_batch;		/* searches the last pass served */
	TimestampTz last_end;		/* when it ended */
	double		last_pass_ms;	/* and how long it took */
	double		lone_pass_ms;	/* how long the last pass of one search took */
	ConditionVariable wake;
} Lane;

typedef struct LaneSlot
{
	SlotState	state;
	int			next;
	int64		rows;			/* rows its search sees: a pass over as many
								 * or more serves it */
	BatchCandidates found;
	float		query[LANE_MAX_DIM];
} LaneSlot;

typedef struct LaneShared
{
	LWLock	   *lock;
	Lane		lanes[LANE_COUNT];
	LaneSlot	slots[LANE_SLOTS];
	uint64		batched_passes; /* passes that served two queries or more */
	uint64		batched_queries;
	uint64		lone_passes;
	int			largest_batch;
} LaneShared;

bool		hybridsearch_cpu_batching = true;

static LaneShared *lanes = NULL;

/* What this backend holds, for clean-up on error and at exit. */
static int	my_lane = -1;
static int	my_slot = -1;
static bool leading = false;
static bool gathering = false;
static TimestampTz gather_until;
static int	gather_target;		/* searches a gathering leader waits for */
static int	lead_slots[LANE_SLOTS];
static int	lead_count = 0;
static bool exit_callback_set = false;

void
batch_lane_request_shmem(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(LaneShared)));
	RequestNamedLWLockTranche("hybridsearch_batch", 1);
}

void
batch_lane_init_shmem(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	lanes = ShmemInitStruct("hybridsearch_batch", sizeof(LaneShared), &found);
	if (!found)
	{
		memset(lanes, 0, sizeof(LaneShared));
		lanes->lock = &GetNamedLWLockTranche("hybridsearch_batch")->lock;
		for (int i = 0; i < LANE_COUNT; i++)
			ConditionVariableInit(&lanes->lanes[i].wake);
	}
	LWLockRelease(AddinShmemInitLock);
}

bool
batch_lane_usable(const Search *search)
{
	return lanes != NULL && hybridsearch_cpu_batching && search->view->shared &&
		search->query != NULL && search->dim <= LANE_MAX_DIM &&
		batch_pass_possible(search->metric) && blas_sgemm() != NULL;
}

static void
enqueue(Lane *lane, int slot)
{
	lanes->slots[slot].state = SLOT_QUEUED;
	lanes->slots[slot].next = -1;
	if (lane->queue_tail >= 0)
		lanes->slots[lane->queue_tail].next = slot;
	else
		lane->queue_head = slot;
	lane->queue_tail = slot;
	lane->queued++;
}

/*
 * Take the queued searches this backend's pass can serve (those that see
 * no more rows than it: rows appended since they pinned the copy are past
 * their end and skipped) as the next pass; the others stay queued for a
 * later one.  Lock held.
 */
static void
lane_lead(Lane *lane, int lane_number)
{
	int64		rows = lanes->slots[my_slot].rows;
	int			s = lane->queue_head;

	lane->running = true;
	leading = true;
	gathering = false;
	my_lane = lane_number;
	lead_count = 0;
	lane->queue_head = lane->queue_tail = -1;
	lane->queued = 0;
	while (s >= 0)
	{
		int			next = lanes->slots[s].next;

		if (lanes->slots[s].rows <= rows)
		{
			lanes->slots[s].state = SLOT_TAKEN;
			lead_slots[lead_count++] = s;
		}
		else
			enqueue(lane, s);
		s = next;
	}
}

/*
 * The search that finds its lane idle, or first in its queue when a pass
 * ends, starts the next pass: at once, or, when the last pass served
 * several searches and ended moments ago (they are coming back with their
 * next queries), after gathering them for a short while, until `expected`
 * are queued.  A search of a lane that has been idle never waits.  Lock
 * held.
 */
static void
start_pass(Lane *lane, int lane_number, int expected)
{
	TimestampTz now = GetCurrentTimestamp();
	double		window_ms = Min(GATHER_MAX_MS, lane->last_pass_ms / 8);

	if (lane->last_batch > 1 && (now - lane->last_end) / 1000.0 < window_ms &&
		lane->queued < expected)
	{
		lane->running = true;
		gathering = true;
		gather_until = now + (TimestampTz) (window_ms * 1000);
		gather_target = Min(expected, LANE_SLOTS);
		my_lane = lane_number;
	}
	else
		lane_lead(lane, lane_number);
}

static void
dequeue(Lane *lane, int slot)
{
	int			previous = -1;

	for (int s = lane->queue_head; s >= 0; previous = s, s = lanes->slots[s].next)
	{
		if (s != slot)
			continue;
		if (previous >= 0)
			lanes->slots[previous].next = lanes->slots[s].next;
		else
			lane->queue_head = lanes->slots[s].next;
		if (lane->queue_tail == s)
			lane->queue_tail = previous;
		lane->queued--;
		return;
	}
}

/*
 * Give back whatever this backend holds: the slots of a pass it leads
 * (their searches then run alone), its own slot.  On error and at exit.
 */
static void
release_held(void)
{
	Lane	   *lane;

	if (my_lane < 0 || lanes == NULL)
		return;
	lane = &lanes->lanes[my_lane];
	LWLockAcquire(lanes->lock, LW_EXCLUSIVE);
	if (leading || gathering)
	{
		for (int i = 0; leading && i < lead_count; i++)
		{
			LaneSlot   *slot = &lanes->slots[lead_slots[i]];

			if (lead_slots[i] != my_slot)
				slot->state = slot->state == SLOT_ABANDONED ? SLOT_FREE : SLOT_FAILED;
		}
		lane->running = false;
	}
	if (my_slot >= 0)
	{
		LaneSlot   *slot = &lanes->slots[my_slot];

		if (slot->state == SLOT_QUEUED)
			dequeue(lane, my_slot);
		slot->state = (slot->state == SLOT_TAKEN && !leading) ? SLOT_ABANDONED : SLOT_FREE;
	}
	LWLockRelease(lanes->lock);
	ConditionVariableBroadcast(&lane->wake);
	my_lane = my_slot = -1;
	leading = gathering = false;
}

static void
release_at_exit(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	release_held();
}

/* An idle lane that served nobody for the longest (or was never used) can be given to another copy. */
static bool
lane_older(const Lane *a, const Lane *b)
{
	if (!a->in_use || !b->in_use)
		return !a->in_use && b->in_use;
	return a->last_end < b->last_end;
}

/* The key's lane, or an idle one taken over for it; -1 when every lane is busy. */
static int
find_lane(const LaneKey *key)
{
	int			free_lane = -1;

	for (int i = 0; i < LANE_COUNT; i++)
	{
		Lane	   *lane = &lanes->lanes[i];

		if (lane->in_use && memcmp(&lane->key, key, sizeof(LaneKey)) == 0)
			return i;
		if (!lane->running && lane->queued == 0 &&
			(free_lane < 0 || lane_older(lane, &lanes->lanes[free_lane])))
			free_lane = i;
	}
	if (free_lane >= 0)
	{
		Lane	   *lane = &lanes->lanes[free_lane];

		lane->in_use = true;
		lane->running = false;
		lane->key = *key;
		lane->queue_head = lane->queue_tail = -1;
		lane->queued = 0;
		lane->last_batch = 0;
		lane->last_end = 0;
		lane->last_pass_ms = 0.0;
		lane->lone_pass_ms = 0.0;
	}
	return free_lane;
}

static int
find_free_slot(void)
{
	for (int i = 0; i < LANE_SLOTS; i++)
		if (lanes->slots[i].state == SLOT_FREE)
			return i;
	return -1;
}

/*
 * Whether a search should queue for a lane's next pass.  An idle lane it
 * leads; behind a running pass it waits only when one search's pass is
 * known to take a while: a short pass (a small copy, or one in the CPU
 * caches) gains less from sharing than the hand-over costs, measured.
 */
static bool
worth_queueing(const Lane *lane)
{
	return !lane->running || lane->lone_pass_ms >= JOIN_MIN_PASS_MS;
}

/* Join the search's lane: lead it now, or queue.  False: run alone. */
static bool
join_lane(Search *search)
{
	LaneKey		key;
	Lane	   *lane;

	memset(&key, 0, sizeof(key));
	key.copy_id = search->view->id;
	key.copy_slot = search->view->slot;
	key.metric = search->metric;
	if (!exit_callback_set)
	{
		before_shmem_exit(release_at_exit, 0);
		exit_callback_set = true;
	}
	LWLockAcquire(lanes->lock, LW_EXCLUSIVE);
	my_lane = find_lane(&key);
	my_slot = my_lane >= 0 && worth_queueing(&lanes->lanes[my_lane]) ? find_free_slot() : -1;
	if (my_slot < 0)
	{
		LWLockRelease(lanes->lock);
		my_lane = -1;
		return false;
	}
	lane = &lanes->lanes[my_lane];
	memcpy(lanes->slots[my_slot].query, search->query, sizeof(float) * search->dim);
	lanes->slots[my_slot].rows = search->row_count;
	enqueue(lane, my_slot);
	if (!lane->running)
		start_pass(lane, my_lane, lane->last_batch);
	LWLockRelease(lanes->lock);
	ConditionVariableBroadcast(&lane->wake);
	return true;
}

static void
run_alone(Search *search)
{
	search_use_cpu(search);
	cpu_source.pull(search);
}

/* The pass of a leader: alone with the SIMD pass, or batched with sgemm. */
static void
lead_pass(Search *search)
{
	Lane	   *lane = &lanes->lanes[my_lane];
	BatchCandidates *found = NULL;
	int			mine = 0;
	TimestampTz start = GetCurrentTimestamp();

	if (lead_count > 1)
	{
		float	   *queries = palloc(sizeof(float) * search->dim * lead_count);

		/* taken slots' queries stay put: only their state may change */
		for (int i = 0; i < lead_count; i++)
		{
			memcpy(queries + (Size) i * search->dim, lanes->slots[lead_slots[i]].query,
				   sizeof(float) * search->dim);
			if (lead_slots[i] == my_slot)
				mine = i;
		}
		found = palloc(sizeof(BatchCandidates) * lead_count);
		batch_pass_run(search->view, search->row_count, search->metric, lead_count, queries, found);
	}
	else
		run_alone(search);

	LWLockAcquire(lanes->lock, LW_EXCLUSIVE);
	for (int i = 0; i < lead_count; i++)
	{
		LaneSlot   *slot = &lanes->slots[lead_slots[i]];

		if (lead_slots[i] == my_slot || slot->state == SLOT_ABANDONED)
			slot->state = SLOT_FREE;
		else
		{
			slot->found = found[i];
			slot->state = SLOT_DONE;
		}
	}
	if (lead_count > 1)
	{
		lanes->batched_passes++;
		lanes->batched_queries += lead_count;
		lanes->largest_batch = Max(lanes->largest_batch, lead_count);
	}
	else
		lanes->lone_passes++;
	lane->last_batch = lead_count;
	lane->last_end = GetCurrentTimestamp();
	lane->last_pass_ms = (lane->last_end - start) / 1000.0;
	if (lead_count == 1)
		lane->lone_pass_ms = lane->last_pass_ms;
	lane->running = false;
	LWLockRelease(lanes->lock);
	ConditionVariableBroadcast(&lane->wake);
	my_lane = my_slot = -1;
	leading = false;
	if (found != NULL)
		batch_source_take(search, &found[mine]);
}

/* Gather the searches coming back from the last pass, then lead. */
static void
gather_then_lead(Search *search)
{
	Lane	   *lane = &lanes->lanes[my_lane];

	ConditionVariablePrepareToSleep(&lane->wake);
	for (;;)
	{
		bool		gathered;

		LWLockAcquire(lanes->lock, LW_EXCLUSIVE);
		gathered = lane->queued >= gather_target || GetCurrentTimestamp() >= gather_until;
		if (gathered)
			lane_lead(lane, my_lane);
		LWLockRelease(lanes->lock);
		if (gathered)
			break;
		/* each arrival wakes it: the timeout only bounds the wait */
		(void) ConditionVariableTimedSleep(&lane->wake, 1, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	lead_pass(search);
}

/* Wait for the pass that serves this search, or lead the next one. */
static void
wait_for_pass(Search *search)
{
	Lane	   *lane = &lanes->lanes[my_lane];
	LaneSlot   *slot = &lanes->slots[my_slot];

	ConditionVariablePrepareToSleep(&lane->wake);
	for (;;)
	{
		SlotState	state;

		LWLockAcquire(lanes->lock, LW_EXCLUSIVE);
		state = slot->state;
		if (state == SLOT_DONE || state == SLOT_FAILED)
		{
			BatchCandidates *found = NULL;

			if (state == SLOT_DONE)
			{
				found = palloc(sizeof(BatchCandidates));
				*found = slot->found;
			}
			slot->state = SLOT_FREE;
			LWLockRelease(lanes->lock);
			ConditionVariableCancelSleep();
			my_lane = my_slot = -1;
			if (found != NULL)
				batch_source_take(search, found);
			else
				run_alone(search);
			return;
		}
		if (state == SLOT_QUEUED && !lane->running)
		{
			start_pass(lane, my_lane, lane->last_batch + lane->queued);
			LWLockRelease(lanes->lock);
			ConditionVariableCancelSleep();
			if (gathering)
				gather_then_lead(search);
			else
				lead_pass(search);
			return;
		}
		LWLockRelease(lanes->lock);
		ConditionVariableSleep(&lane->wake, PG_WAIT_EXTENSION);
	}
}

/* The first pull of a batched search (batch_source.c). */
void
batch_lane_first_pull(Search *search)
{
	if (!join_lane(search))
	{
		run_alone(search);
		return;
	}
	PG_TRY();
	{
		if (leading)
			lead_pass(search);
		else if (gathering)
			gather_then_lead(search);
		else
			wait_for_pass(search);
	}
	PG_CATCH();
	{
		release_held();
		PG_RE_THROW();
	}
	PG_END_TRY();
}

PG_FUNCTION_INFO_V1(hybridsearch_batch_stats);

/*
 * Server-wide counts of the lanes' passes since start-up, and the slots
 * searches hold now: NULLs without the preload, where searches never
 * share passes.
 */
Datum
hybridsearch_batch_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	descriptor;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	int			slots_in_use = 0;

	if (get_call_result_type(fcinfo, NULL, &descriptor) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (lanes == NULL)
		memset(nulls, true, sizeof(nulls));
	else
	{
		LWLockAcquire(lanes->lock, LW_SHARED);
		values[0] = Int64GetDatum(lanes->batched_passes);
		values[1] = Int64GetDatum(lanes->batched_queries);
		values[2] = Int64GetDatum(lanes->lone_passes);
		values[3] = Int32GetDatum(lanes->largest_batch);
		for (int i = 0; i < LANE_SLOTS; i++)
			slots_in_use += lanes->slots[i].state != SLOT_FREE;
		values[4] = Int32GetDatum(slots_in_use);
		LWLockRelease(lanes->lock);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(descriptor, values, nulls)));
}
