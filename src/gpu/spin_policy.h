/*
 * spin_policy.h
 *	  Whether a GPU-path process may poll shared memory for a while instead
 *	  of sleeping until it is woken (gpu_poll.c, cuda_host_channel.h).
 *
 * A sleeping process is woken through a signal or a pipe and the
 * scheduler, tens of microseconds on the GPU machine; a process that polls
 * sees the change at once but holds a CPU meanwhile.  Polls are bounded,
 * and only machines with SPIN_MIN_CPUS or more take them: on fewer, the
 * poller would take the CPU that the side it waits for needs.  Plain C:
 * the CUDA host process includes it too.
 */
#ifndef HYBRIDSEARCH_SPIN_POLICY_H
#define HYBRIDSEARCH_SPIN_POLICY_H

#include <stdbool.h>
#include <unistd.h>

#define SPIN_MIN_CPUS		4

/* The CPUs online; polls are for machines with SPIN_MIN_CPUS of them. */
static inline int
spin_cpus(void)
{
	static int	cpus = 0;

	if (cpus == 0)
		cpus = (int) sysconf(_SC_NPROCESSORS_ONLN);
	return cpus;
}

#endif							/* HYBRIDSEARCH_SPIN_POLICY_H */
