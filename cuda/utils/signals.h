/*
 * utils/signals.h
 *	  Keeping the host process's signal handlers off the module's threads.
 *
 * Threads that the CUDA runtime, cuBLAS or hs_gpu_search_parts start take
 * the signal mask of the thread that starts them, and the host process's
 * handlers (PostgreSQL's, which assume its main thread) must never run on
 * them.  Every C API call that reaches CUDA holds a SignalsBlocked while it
 * runs, so any thread it starts begins with every signal blocked.
 */
#ifndef HS_UTILS_SIGNALS_H
#define HS_UTILS_SIGNALS_H

#include <pthread.h>
#include <signal.h>

struct SignalsBlocked
{
	sigset_t	saved;

	SignalsBlocked()
	{
		sigset_t	all;

		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &saved);
	}
	~SignalsBlocked()
	{
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
	}
};

#endif							/* HS_UTILS_SIGNALS_H */
