/*
 * cuda_host_channel.h
 *	  The only memory the GPU worker and its CUDA host process share: one
 *	  call at a time, its reply, and a staging area for the queries,
 *	  results and rows that travel with it.
 *
 * Plain C with no PostgreSQL header: the CUDA host (cuda_host_child.c)
 * includes it and must not call PostgreSQL.  The worker creates the
 * mapping (MAP_SHARED | MAP_ANONYMOUS) before it forks the host, writes a
 * call, writes one byte into the request pipe and waits on the reply pipe;
 * the host answers and writes one byte back.  The pipes order the memory
 * accesses (each is a system call on both sides), and the reply pipe's
 * end of file tells the worker the host died.
 */
#ifndef HYBRIDSEARCH_CUDA_HOST_CHANNEL_H
#define HYBRIDSEARCH_CUDA_HOST_CHANNEL_H

#include <stdint.h>
#include <sys/types.h>

#include "hs_gpu.h"

#define HOST_MESSAGE_LEN	256
/* room for a batch of 64 queries of 16000 dimensions and their top 4096 */
#define HOST_STAGING_BYTES	(32 * 1024 * 1024)

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
	HOST_OP_SEARCH				/* nparts matrices; queries, then results, in staging */
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
} HostCall;

typedef struct HostReply
{
	int			rc;				/* HS_GPU_OK or HS_GPU_E* */
	char		message[HOST_MESSAGE_LEN];
	int			count;			/* devices visible */
	uint64_t	matrix;			/* a new matrix */
	int64_t		rows;			/* a matrix's rows after an append */
	uint64_t	bytes;			/* and its device bytes */
	float		kernel_ms;
	int			shared_mappings_left;	/* after detaching: shared mappings not ours */
} HostReply;

typedef struct HostChannel
{
	HostCall	call;
	HostReply	reply;
	/* search: queries[nq * dim], distances[nq * k], rows[nq * k] (8-aligned) */
	double		staging[HOST_STAGING_BYTES / sizeof(double)];
} HostChannel;

/* Offsets in staging of a search's results. */
#define HOST_SEARCH_DISTANCES(channel, nq, dim) \
	((float *) ((char *) (channel)->staging + sizeof(float) * (size_t) (nq) * (dim)))
#define HOST_SEARCH_ROWS(channel, nq, dim, k) \
	((int64_t *) ((char *) (channel)->staging + \
				  ((sizeof(float) * (size_t) (nq) * ((dim) + (k)) + 7) & ~(size_t) 7)))
#define HOST_SEARCH_BYTES(nq, dim, k) \
	(((sizeof(float) * (size_t) (nq) * ((dim) + (k)) + 7) & ~(size_t) 7) + \
	 sizeof(int64_t) * (size_t) (nq) * (k))

extern void cuda_host_child_main(HostChannel *channel, int request_fd, int reply_fd,
								 pid_t worker, const char *module_path)
			__attribute__((noreturn));

#endif							/* HYBRIDSEARCH_CUDA_HOST_CHANNEL_H */
