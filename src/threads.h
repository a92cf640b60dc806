/*
 * threads.h
 *	  Running pure arithmetic on several threads inside a backend.
 *
 * The work function must call no PostgreSQL function (no palloc, no
 * ereport, no locks): it computes on memory it is given.  Threads start
 * with every signal blocked, so PostgreSQL's handlers only ever run in the
 * backend's own thread; a thread that cannot start leaves its share to the
 * backend's thread.
 */
#ifndef HYBRIDSEARCH_THREADS_H
#define HYBRIDSEARCH_THREADS_H

#define MAX_WORK_THREADS		64

extern int	work_threads(int64 items, int64 items_per_thread_min);
extern void run_on_threads(void *(*work) (void *), void *args, Size arg_size, int threads);

#endif							/* HYBRIDSEARCH_THREADS_H */
