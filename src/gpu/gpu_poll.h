/*
 * gpu_poll.h
 *	  Bounded polls of the GPU request slots in place of a latch's wake-up
 *	  (gpu_poll.c).
 */
#ifndef HYBRIDSEARCH_GPU_POLL_H
#define HYBRIDSEARCH_GPU_POLL_H

/* the worker, after a round, for the next request */
#define GPU_NEXT_REQUEST_POLL_US	1000
/* a backend, for its answer */
#define GPU_ANSWER_POLL_US			2000

extern bool gpu_requests_waiting(void);
extern bool gpu_poll_submitted(int poll_us);
extern bool gpu_poll_answered(const int *slot_numbers, int count, int poll_us);

#endif							/* HYBRIDSEARCH_GPU_POLL_H */
