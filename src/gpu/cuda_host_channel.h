/*
 * cuda_host_channel.h
 *	  The only memory the GPU worker and its CUDA host process share: one
 *	  call at a time, its reply, and staging areas for the queries,
 *	  results and rows that travel with calls.
 *
 * Plain C with no PostgreSQL header: the CUDA host (cuda_host_child.c)
 * includes it and must not call PostgreSQL.  The worker creates the
 * mapping (MAP_SHARED | MAP_ANONYMOUS) before it forks the host, writes a
 * call, writes one byte into the request pipe and waits on the reply pipe;
 * the host answers and writes one byte back.  The pipes order the memory
 * accesses (each is a system call on both sides), and the reply pipe's
 * end of file tells the worker the host died.
 *
 * A search is two calls, its start and its finish, on one of the module's
 * lanes (hs_gpu_search_start), each lane with a staging area of its own:
 * the worker starts the next batch on the other lane before it finishes
 * the last, so the GPU goes from one search to the next without waiting
 * for the two processes in between.  Other calls come only while no
 * search is started.
 *
 * A pipe's byte wakes a sleeping reader through the scheduler.  So after
 * each byte the writer also bumps a sequence number here, and where
 * spin_policy.h allows, the reader first polls that number for a while
 * (the host for the next call, the worker for the reply) before it sleeps
 * on the pipe: a call that follows the last one closely, or a reply that
 * comes within the time, costs no wake-up.  The byte is read all the same,
 * and is already there when the number has moved.
 */
#ifndef HYBRIDSEARCH_CUDA_HOST_CHANNEL_H
#define HYBRIDSEARCH_CUDA_HOST_CHANNEL_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "gpu/spin_policy.h"
#include "hs_gpu.h"

#define HOST_MESSAGE_LEN	256
/* room for a batch of 64 queries of 16000 dimensions and their top 4096 */
#define HOST_STAGING_BYTES	(32 * 1024 * 1024)

/* polling before sleeping on a pipe (spin_policy.h) */
#define HOST_CALL_SPIN_US	1000	/* the host, for the next call */
#define HOST_REPLY_SPIN_US	2000	/* the worker, for a reply */

typedef enum HostOp
{
	HOST_OP_HELLO = 1,			/* how detaching from PostgreSQL went */
	HOST_OP_PING,				/* nothing: the cost of a round trip */
	HOST_OP_LOAD,				/* dlopen the CUDA module */
	HOST_OP_DEVICE_COUNT,
	HOST_OP_OPEN,				/* device */
	HOST_OP_CLOSE,
	HOST_OP_MATRIX_CREATE,		/* device, dim, half */
	HOST_OP_MATRIX_APPEND,		/* matrices[0], nrows fp32 rows in staging */
	HOST_OP_MATRIX_FREE,		/* matrices[0] */
	HOST_OP_SEARCH_START,		/* lane, nparts matrices; queries in the lane's staging */
	HOST_OP_MATRIX_RESERVE,		/* matrices[0], room for nrows rows */
	HOST_OP_SEARCH_FINISH		/* lane, and its start's sizes: results into its staging */
} HostOp;

/* what a test can make the host do while it handles a call */
typedef enum HostFault
{
	HOST_FAULT_NONE = 0,
	HOST_FAULT_SEGFAULT,		/* raise SIGSEGV */
	HOST_FAULT_ABORT,			/* abort(), as a failed assertion in a library does */
	HOST_FAULT_HANG				/* never answer */
} HostFault;

typedef struct HostCall
{
	int			op;				/* HostOp */
	int			fault;			/* HostFault */
	int			device;
	int			dim;
	int			half;
	int			metric;
	int			nqueries;
	int			k;
	int64_t		nrows;
	int			nparts;
	uint64_t	matrices[HS_GPU_MAX_PARTS]; /* the host's hs_gpu_matrix pointers */
	int			lane;			/* a search's */
	int			finish;			/* a search's start: finish it too, in the one call */
} HostCall;

typedef struct HostReply
{
	int			rc;				/* HS_GPU_OK or HS_GPU_E* */
	char		message[HOST_MESSAGE_LEN];	/* an error; after a search, its kernels */
	int			count;			/* devices visible */
	uint64_t	matrix;			/* a new matrix */
	int64_t		rows;			/* a matrix's rows after an append or a reservation */
	uint64_t	bytes;			/* and its device bytes */
	float		kernel_ms;
	int			served;			/* a search's start: its queries searched, a prefix */
	int			shared_mappings_left;	/* after detaching: shared mappings not ours */
} HostReply;

typedef struct HostChannel
{
	HostCall	call;
	HostReply	reply;
	uint32_t	call_seq;		/* bumped by the worker after each request byte */
	uint32_t	reply_seq;		/* set by the host to call_seq after its reply byte */
	double		staging[HOST_STAGING_BYTES / sizeof(double)];	/* appended rows */
	/* a lane's search: queries[nq * dim], distances[nq * k], rows[nq * k] (8-aligned) */
	double		lane_staging[HS_GPU_LANES][HOST_STAGING_BYTES / sizeof(double)];
} HostChannel;

/* Offsets in a lane's staging of a search's results. */
#define HOST_SEARCH_DISTANCES(staging, nq, dim) \
	((float *) ((char *) (staging) + sizeof(float) * (size_t) (nq) * (dim)))
#define HOST_SEARCH_ROWS(staging, nq, dim, k) \
	((int64_t *) ((char *) (staging) + \
				  ((sizeof(float) * (size_t) (nq) * ((dim) + (k)) + 7) & ~(size_t) 7)))
#define HOST_SEARCH_BYTES(nq, dim, k) \
	(((sizeof(float) * (size_t) (nq) * ((dim) + (k)) + 7) & ~(size_t) 7) + \
	 sizeof(int64_t) * (size_t) (nq) * (k))

/* Whether *seq moved off from within spin_us microseconds; false at once without CPUs to spare. */
static inline bool
host_channel_poll(const uint32_t *seq, uint32_t from, int spin_us)
{
	struct timespec start;
	struct timespec now;

	if (spin_cpus() < SPIN_MIN_CPUS)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do
	{
		if (__atomic_load_n(seq, __ATOMIC_ACQUIRE) != from)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - start.tv_sec) * 1000000L + (now.tv_nsec - start.tv_nsec) / 1000 < spin_us);
	return false;
}

extern void cuda_host_child_main(HostChannel *channel, int request_fd, int reply_fd,
								 pid_t worker, const char *module_path)
			__attribute__((noreturn));

#endif							/* HYBRIDSEARCH_CUDA_HOST_CHANNEL_H */
