/*
 * threads.c
 *	  Running pure arithmetic on several threads (see threads.h).
 */
#include "postgres.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "hybridsearch.h"
#include "threads.h"

/* Threads for items, hybridsearch.cpu_threads at most (0: every CPU). */
int
work_threads(int64 items, int64 items_per_thread_min)
{
	long		threads = hybridsearch_cpu_threads;

	if (threads <= 0)
		threads = sysconf(_SC_NPROCESSORS_ONLN);
	threads = Min(threads, MAX_WORK_THREADS);
	threads = Min(threads, items / items_per_thread_min + 1);
	return (int) Max(threads, 1);
}

/* work(args + t * arg_size) for t in [0, threads), the first in this thread. */
void
run_on_threads(void *(*work) (void *), void *args, Size arg_size, int threads)
{
	pthread_t	handles[MAX_WORK_THREADS];
	bool		started[MAX_WORK_THREADS];
	sigset_t	all,
				saved;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	for (int t = 1; t < threads; t++)
		started[t] = pthread_create(&handles[t], NULL, work, (char *) args + t * arg_size) == 0;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);

	work(args);
	for (int t = 1; t < threads; t++)
	{
		if (started[t])
			pthread_join(handles[t], NULL);
		else
			work((char *) args + t * arg_size);
	}
}
