/*
 * cuda_host_child.c
 *	  The CUDA host: the child process of the GPU worker that loads the
 *	  CUDA module and makes every CUDA call.
 *
 * PostgreSQL restarts every backend when a process attached to its shared
 * memory dies abnormally.  This process is not attached: right after the
 * fork it unmaps every shared mapping it inherited except the channel (the
 * main shared memory, the System V segment whose attach count the
 * postmaster checks at restart, any dynamic segment), takes default
 * signal handlers and a process group of its own, dies with the worker
 * (PR_SET_PDEATHSIG) and closes every descriptor but its two pipes.  Its
 * death (a segfault or an abort in the module or a CUDA library, or the
 * worker's SIGKILL after a call overran its deadline) is seen only by the
 * worker, which answers the call as failed and starts another host.
 *
 * Plain C without PostgreSQL's headers: nothing here may palloc, ereport
 * or touch shared state; messages go into the channel and the process
 * ends with _exit.  See cuda_host.h for the worker's side.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "gpu/cuda_host_channel.h"

#define MAX_MAPPINGS 4096
#define MAX_FDS 4096

/* The module's entry points, found with dlsym. */
typedef struct Module
{
	void	   *handle;
	int			(*device_count) (int *count, char *errbuf, size_t errlen);
	int			(*open) (int device, char *errbuf, size_t errlen);
	void		(*close) (void);
	hs_gpu_matrix *(*matrix_create) (int device, int dim, int half, char *errbuf, size_t errlen);
	int			(*matrix_append) (hs_gpu_matrix *m, const float *rows, int64_t nrows,
								  char *errbuf, size_t errlen);
	int			(*matrix_reserve) (hs_gpu_matrix *m, int64_t nrows, char *errbuf, size_t errlen);
	int64_t		(*matrix_rows) (const hs_gpu_matrix *m);
	size_t		(*matrix_bytes) (const hs_gpu_matrix *m);
	void		(*matrix_free) (hs_gpu_matrix *m);
	int			(*search_start) (int lane, hs_gpu_matrix *const *parts, int nparts, int metric,
								 const float *queries, int nqueries, int k, char *errbuf,
								 size_t errlen);
	int			(*search_finish) (int lane, float *out_distances, int64_t *out_rows,
								  float *kernel_ms, char *errbuf, size_t errlen);
	size_t		(*last_variant) (char *buf, size_t buflen);	/* optional */
	int			(*launch_size) (hs_gpu_matrix *const *parts, int nparts, int metric,
								int nqueries, int k);	/* optional */
} Module;

static Module module;

/*
 * Unmap every shared mapping but the channel; the count of those left
 * (0 unless munmap failed).  The ranges are read first and unmapped after,
 * since unmapping changes /proc/self/maps.
 */
static int
unmap_shared(const void *keep)
{
	static unsigned long starts[MAX_MAPPINGS];
	static unsigned long ends[MAX_MAPPINGS];
	FILE	   *maps = fopen("/proc/self/maps", "r");
	char		line[512];
	int			count = 0;
	int			left = 0;

	if (maps == NULL)
		return -1;
	while (fgets(line, sizeof(line), maps) != NULL && count < MAX_MAPPINGS)
	{
		unsigned long start;
		unsigned long end;
		char		perms[8];

		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3 && perms[3] == 's' &&
			start != (unsigned long) keep)
		{
			starts[count] = start;
			ends[count++] = end;
		}
	}
	fclose(maps);
	for (int i = 0; i < count; i++)
		if (munmap((void *) starts[i], ends[i] - starts[i]) != 0)
			left++;
	return left;
}

/* Default handlers and no blocked signal: a fault ends the process. */
static void
reset_signals(void)
{
	sigset_t	none;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Close every descriptor but stdin, stdout, stderr and the two pipes. */
static void
close_inherited(int request_fd, int reply_fd)
{
	static int	fds[MAX_FDS];
	int			count = 0;
	DIR		   *dir = opendir("/proc/self/fd");
	struct dirent *entry;

	if (dir == NULL)
		return;
	while ((entry = readdir(dir)) != NULL && count < MAX_FDS)
	{
		int			fd = atoi(entry->d_name);

		if (fd > 2 && fd != request_fd && fd != reply_fd && fd != dirfd(dir))
			fds[count++] = fd;
	}
	closedir(dir);
	for (int i = 0; i < count; i++)
		close(fds[i]);
}

static void
load_module(HostReply *reply, const char *path)
{
	if (module.handle != NULL)
		return;
	module.handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (module.handle == NULL)
	{
		reply->rc = HS_GPU_ESTATE;
		snprintf(reply->message, HOST_MESSAGE_LEN, "the CUDA module could not be loaded: %s",
				 dlerror());
		return;
	}
	module.device_count = dlsym(module.handle, "hs_gpu_device_count");
	module.open = dlsym(module.handle, "hs_gpu_open");
	module.close = dlsym(module.handle, "hs_gpu_close");
	module.matrix_create = dlsym(module.handle, "hs_gpu_matrix_create");
	module.matrix_append = dlsym(module.handle, "hs_gpu_matrix_append");
	module.matrix_reserve = dlsym(module.handle, "hs_gpu_matrix_reserve");
	module.matrix_rows = dlsym(module.handle, "hs_gpu_matrix_rows");
	module.matrix_bytes = dlsym(module.handle, "hs_gpu_matrix_bytes");
	module.matrix_free = dlsym(module.handle, "hs_gpu_matrix_free");
	module.search_start = dlsym(module.handle, "hs_gpu_search_start");
	module.search_finish = dlsym(module.handle, "hs_gpu_search_finish");
	module.last_variant = dlsym(module.handle, "hs_gpu_last_variant");
	module.launch_size = dlsym(module.handle, "hs_gpu_launch_size");
	if (!module.device_count || !module.open || !module.close || !module.matrix_create ||
		!module.matrix_append || !module.matrix_reserve || !module.matrix_rows || !module.matrix_bytes ||
		!module.matrix_free || !module.search_start || !module.search_finish)
	{
		/* never dlclose: a library's threads may still run its code */
		reply->rc = HS_GPU_ESTATE;
		snprintf(reply->message, HOST_MESSAGE_LEN, "the CUDA module %s lacks an entry point", path);
		module.device_count = NULL;
	}
}

static void
act_out(int fault)
{
	switch (fault)
	{
		case HOST_FAULT_SEGFAULT:
			raise(SIGSEGV);
			break;
		case HOST_FAULT_ABORT:
			abort();
		case HOST_FAULT_HANG:
			for (;;)
				pause();
		default:
			break;
	}
}

/*
 * Finish the search started on the call's lane: its answers into the
 * lane's staging, after its queries (the call's sizes are its start's);
 * on success the message names the kernels that ran (the worker logs it).
 */
static void
search_finish(HostChannel *channel)
{
	HostCall   *call = &channel->call;
	HostReply  *reply = &channel->reply;
	double	   *staging = channel->lane_staging[call->lane];

	reply->rc = module.search_finish(call->lane,
									 HOST_SEARCH_DISTANCES(staging, call->nqueries, call->dim),
									 HOST_SEARCH_ROWS(staging, call->nqueries, call->dim, call->k),
									 &reply->kernel_ms, reply->message, HOST_MESSAGE_LEN);
	if (reply->rc == HS_GPU_OK)
	{
		reply->message[0] = '\0';
		if (module.last_variant)
			module.last_variant(reply->message, HOST_MESSAGE_LEN);
	}
}

/*
 * Start a search of the first queries of the call on its lane, as many as
 * the module's launch size says (the rest wait for the worker's next
 * launch), and finish it too when the call asks.
 */
static void
search_start(HostChannel *channel)
{
	HostCall   *call = &channel->call;
	HostReply  *reply = &channel->reply;
	hs_gpu_matrix *parts[HS_GPU_MAX_PARTS];
	int			served = call->nqueries;

	if (HOST_SEARCH_BYTES(call->nqueries, call->dim, call->k) > HOST_STAGING_BYTES ||
		call->nparts < 1 || call->nparts > HS_GPU_MAX_PARTS)
	{
		reply->rc = HS_GPU_EINVAL;
		snprintf(reply->message, HOST_MESSAGE_LEN,
				 "a search of %d queries in %d parts does not fit the CUDA host's staging",
				 call->nqueries, call->nparts);
		return;
	}
	for (int p = 0; p < call->nparts; p++)
		parts[p] = (hs_gpu_matrix *) (uintptr_t) call->matrices[p];
	if (module.launch_size)
		served = module.launch_size(parts, call->nparts, call->metric, call->nqueries, call->k);
	if (served < 1 || served > call->nqueries)
		served = call->nqueries;
	reply->served = served;
	reply->rc = module.search_start(call->lane, parts, call->nparts, call->metric,
									(const float *) channel->lane_staging[call->lane], served,
									call->k, reply->message, HOST_MESSAGE_LEN);
	if (reply->rc == HS_GPU_OK && call->finish)
		search_finish(channel);
}

static void
append(HostChannel *channel)
{
	HostCall   *call = &channel->call;
	HostReply  *reply = &channel->reply;
	hs_gpu_matrix *matrix = (hs_gpu_matrix *) (uintptr_t) call->matrices[0];

	reply->rc = module.matrix_append(matrix, (const float *) channel->staging, call->nrows,
									 reply->message, HOST_MESSAGE_LEN);
	reply->rows = module.matrix_rows(matrix);
	reply->bytes = module.matrix_bytes(matrix);
}

static void
reserve(HostChannel *channel)
{
	HostCall   *call = &channel->call;
	HostReply  *reply = &channel->reply;
	hs_gpu_matrix *matrix = (hs_gpu_matrix *) (uintptr_t) call->matrices[0];

	reply->rc = module.matrix_reserve(matrix, call->nrows, reply->message, HOST_MESSAGE_LEN);
	reply->rows = module.matrix_rows(matrix);
	reply->bytes = module.matrix_bytes(matrix);
}

/* Calls other than HELLO and LOAD need the module. */
static void
dispatch(HostChannel *channel, const char *module_path)
{
	HostCall   *call = &channel->call;
	HostReply  *reply = &channel->reply;
	hs_gpu_matrix *matrix;

	if (call->op > HOST_OP_LOAD && module.device_count == NULL)
	{
		reply->rc = HS_GPU_ESTATE;
		snprintf(reply->message, HOST_MESSAGE_LEN, "the CUDA module is not loaded");
		return;
	}
	if ((call->op == HOST_OP_SEARCH_START || call->op == HOST_OP_SEARCH_FINISH) &&
		(call->lane < 0 || call->lane >= HS_GPU_LANES))
	{
		reply->rc = HS_GPU_EINVAL;
		snprintf(reply->message, HOST_MESSAGE_LEN, "no lane %d", call->lane);
		return;
	}
	switch ((HostOp) call->op)
	{
		case HOST_OP_HELLO:
		case HOST_OP_PING:
			break;
		case HOST_OP_LOAD:
			load_module(reply, module_path);
			break;
		case HOST_OP_DEVICE_COUNT:
			reply->rc = module.device_count(&reply->count, reply->message, HOST_MESSAGE_LEN);
			break;
		case HOST_OP_OPEN:
			reply->rc = module.open(call->device, reply->message, HOST_MESSAGE_LEN);
			break;
		case HOST_OP_CLOSE:
			module.close();
			break;
		case HOST_OP_MATRIX_CREATE:
			matrix = module.matrix_create(call->device, call->dim, call->half, reply->message,
										  HOST_MESSAGE_LEN);
			reply->rc = matrix ? HS_GPU_OK : HS_GPU_ENOMEM;
			reply->matrix = (uint64_t) (uintptr_t) matrix;
			break;
		case HOST_OP_MATRIX_APPEND:
			append(channel);
			break;
		case HOST_OP_MATRIX_FREE:
			module.matrix_free((hs_gpu_matrix *) (uintptr_t) call->matrices[0]);
			break;
		case HOST_OP_SEARCH_START:
			search_start(channel);
			break;
		case HOST_OP_SEARCH_FINISH:
			search_finish(channel);
			break;
		case HOST_OP_MATRIX_RESERVE:
			reserve(channel);
			break;
		default:
			reply->rc = HS_GPU_EINVAL;
			snprintf(reply->message, HOST_MESSAGE_LEN, "unknown call %d", call->op);
	}
}

void
cuda_host_child_main(HostChannel *channel, int request_fd, int reply_fd, pid_t worker,
					 const char *module_path)
{
	int			shared_left;
	char		byte;

	/* die with the worker; it may have died before the first line ran */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != worker)
		_exit(1);
	prctl(PR_SET_NAME, "hs cuda host");	/* what top and ps -o comm show */
	reset_signals();
	setpgid(0, 0);				/* signals the postmaster sends the worker's group */
	shared_left = unmap_shared(channel);
	close_inherited(request_fd, reply_fd);

	for (;;)
	{
		ssize_t		n;

		(void) host_channel_poll(&channel->call_seq, channel->reply_seq, HOST_CALL_SPIN_US);
		n = read(request_fd, &byte, 1);

		if (n == 0)
			_exit(0);			/* the worker closed the pipe: stop */
		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		memset(&channel->reply, 0, sizeof(HostReply));
		channel->reply.shared_mappings_left = shared_left;
		act_out(channel->call.fault);
		dispatch(channel, module_path);
		while (write(reply_fd, &byte, 1) < 0)
			if (errno != EINTR)
				_exit(1);
		__atomic_store_n(&channel->reply_seq, channel->call_seq, __ATOMIC_RELEASE);
	}
}
