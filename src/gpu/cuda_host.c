/*
 * cuda_host.c
 *	  The GPU worker's side of its CUDA host process (see cuda_host.h and,
 *	  for the host itself, cuda_host_child.c).
 *
 * The worker forks the host, which never returns into PostgreSQL code;
 * the two share only the channel (cuda_host_channel.h), created once with
 * mmap before the first fork and reused by every later host.  A call
 * writes its arguments into the channel, one byte into the request pipe,
 * and polls the reply pipe until the host answers, the pipe reports end of
 * file (the host died) or the deadline passes (the host is killed).  The
 * postmaster never sees the host: it is the worker's child, so its death
 * is reaped here and is not a server crash.  Searches, in two calls on
 * the host's lanes, are in cuda_host_search.c.
 */
#include "postgres.h"

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/ipc.h"
#include "storage/pmsignal.h"
#include "utils/timestamp.h"

#include "elapsed.h"
#include "gpu/cuda_host.h"
#include "gpu/cuda_host_channel.h"
#include "gpu/cuda_host_internal.h"
#include "hybridsearch.h"

/* opening devices creates CUDA contexts: seconds, more than a search */
#define SETUP_TIMEOUT_MS	120000
#define STOP_TIMEOUT_MS		5000
#define FIRST_BACKOFF_MS	100
#define MAX_BACKOFF_MS		30000
/* a host that lived this long was healthy: its successor starts at once */
#define HEALTHY_MS			60000
#define PINGS				200

static HostChannel *channel = NULL;
static pid_t host_pid = 0;
static int	request_fd = -1;
static int	reply_fd = -1;
static TimestampTz started_at = 0;
static TimestampTz restart_at = 0;
static int	backoff_ms = 0;
static bool died = false;		/* a death the worker has not taken yet */
static char death[GPU_MESSAGE_LEN] = "the CUDA host process has not started";
static uint32 answered_seq = 0; /* the channel's reply_seq when the call went */

static void
close_pipes(void)
{
	if (request_fd >= 0)
		close(request_fd);
	if (reply_fd >= 0)
		close(reply_fd);
	request_fd = reply_fd = -1;
}

/* Wait for the host's exit and describe it: "was terminated by signal 11: ..." */
static void
reap(char *how, Size len)
{
	int			status = 0;

	while (waitpid(host_pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status))
		snprintf(how, len, "was terminated by signal %d: %s", WTERMSIG(status),
				 pg_strsignal(WTERMSIG(status)));
	else
		snprintf(how, len, "exited with code %d", WEXITSTATUS(status));
	host_pid = 0;
	close_pipes();
}

/*
 * The host died or was killed (why: the reason we killed it, or NULL):
 * log it once, and pace its restart, doubling the wait while hosts keep
 * dying young so that a module that crashes at once does not spin.
 */
static void
lose_host(const char *why)
{
	char		how[128];
	pid_t		pid = host_pid;
	TimestampTz now = GetCurrentTimestamp();

	if (why)
		kill(host_pid, SIGKILL);
	reap(how, sizeof(how));
	if (TimestampDifferenceExceeds(started_at, now, HEALTHY_MS) || backoff_ms == 0)
		backoff_ms = FIRST_BACKOFF_MS;
	else
		backoff_ms = Min(backoff_ms * 2, MAX_BACKOFF_MS);
	restart_at = TimestampTzPlusMilliseconds(now, backoff_ms);
	snprintf(death, sizeof(death), "the CUDA host process (pid %d) %s", (int) pid,
			 why ? why : how);
	died = true;
	host_lanes_lost(death);
	ereport(WARNING,
			(errmsg("hybridsearch GPU worker: %s; starting another in %d ms", death, backoff_ms),
			 errdetail("Requests in flight fail and their scans finish on the CPU; the index copies on the GPU are lost.")));
}

/*
 * Send the call written in the channel; CUDA_HOST_DIED (message says why)
 * when there is no host to take it.
 */
static int
send_call(char *message)
{
	char		byte = 0;

	if (host_pid == 0)
	{
		strlcpy(message, death, GPU_MESSAGE_LEN);
		return CUDA_HOST_DIED;
	}
	answered_seq = __atomic_load_n(&channel->reply_seq, __ATOMIC_ACQUIRE);
	if (write(request_fd, &byte, 1) != 1)
	{
		lose_host(NULL);		/* only a dead host closes its end */
		strlcpy(message, death, GPU_MESSAGE_LEN);
		return CUDA_HOST_DIED;
	}
	__atomic_store_n(&channel->call_seq, channel->call_seq + 1, __ATOMIC_RELEASE);
	return HS_GPU_OK;
}

/*
 * Wait for the reply to the call sent; HS_GPU_* or CUDA_HOST_DIED, with
 * the reply's message copied into message on failure.  A host that does
 * not answer within timeout_ms is killed.
 */
static int
await_reply(int timeout_ms, char *message)
{
	char		byte;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	char		why[128];

	(void) host_channel_poll(&channel->reply_seq, answered_seq, HOST_REPLY_SPIN_US);
	for (;;)
	{
		struct pollfd wait = {.fd = reply_fd,.events = POLLIN};
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		int			ready = poll(&wait, 1, (int) Min(left, 1000));

		if (ready > 0)
		{
			ssize_t		got = read(reply_fd, &byte, 1);

			if (got == 1)
				break;
			if (got == 0 || errno != EINTR)
			{
				lose_host(NULL);
				strlcpy(message, death, GPU_MESSAGE_LEN);
				return CUDA_HOST_DIED;
			}
		}
		if (!PostmasterIsAlive())
			proc_exit(1);
		CHECK_FOR_INTERRUPTS();
		if (ready == 0 && left <= 0)
		{
			snprintf(why, sizeof(why), "did not answer within %d ms and was killed", timeout_ms);
			lose_host(why);
			strlcpy(message, death, GPU_MESSAGE_LEN);
			return CUDA_HOST_DIED;
		}
	}
	if (channel->reply.rc != HS_GPU_OK)
		strlcpy(message, channel->reply.message, GPU_MESSAGE_LEN);
	return channel->reply.rc;
}

/* Run the call written in the channel: send it and wait for the reply. */
int
host_call(int timeout_ms, char *message)
{
	int			rc = send_call(message);

	return rc == HS_GPU_OK ? await_reply(timeout_ms, message) : rc;
}

HostCall *
host_begin_call(HostOp op)
{
	if (op != HOST_OP_SEARCH_START && op != HOST_OP_SEARCH_FINISH)
		host_lanes_finish();
	memset(&channel->call, 0, sizeof(HostCall));
	channel->call.op = op;
	return &channel->call;
}

static void
kill_host_at_exit(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	if (host_pid > 0)
	{
		kill(host_pid, SIGKILL);
		while (waitpid(host_pid, NULL, 0) < 0 && errno == EINTR)
			;
		host_pid = 0;
	}
}

static int
compare_us(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Log what a round trip to the host costs: the price of containment. */
static void
log_round_trip(void)
{
	double		us[PINGS];
	char		message[GPU_MESSAGE_LEN];

	for (int i = 0; i < PINGS; i++)
	{
		instr_time	start;

		INSTR_TIME_SET_CURRENT(start);
		host_begin_call(HOST_OP_PING);
		if (host_call(SETUP_TIMEOUT_MS, message) != HS_GPU_OK)
			return;
		us[i] = ms_since(start) * 1000.0;
	}
	qsort(us, PINGS, sizeof(double), compare_us);
	ereport(LOG,
			(errmsg("hybridsearch GPU worker: CUDA host process %d started; a round trip to it takes %.1f us (median of %d, 90th percentile %.1f us)",
					(int) host_pid, us[PINGS / 2], PINGS, us[PINGS * 9 / 10])));
}

/* Fork a new host; false and why not. */
bool
cuda_host_start(char *message)
{
	static bool exit_hook = false;
	char		module_path[MAXPGPATH];
	const char *stand_in = getenv("HYBRIDSEARCH_CUDA_MODULE");
	int			request[2];
	int			reply[2];
	pid_t		worker = MyProcPid;
	pid_t		pid;

	Assert(host_pid == 0);
	if (channel == NULL)
	{
		void	   *area = mmap(NULL, sizeof(HostChannel), PROT_READ | PROT_WRITE,
								MAP_SHARED | MAP_ANONYMOUS, -1, 0);

		if (area == MAP_FAILED)
		{
			snprintf(message, GPU_MESSAGE_LEN, "could not map the CUDA host's channel: %m");
			return false;
		}
		channel = area;
	}
	if (!exit_hook)
		on_proc_exit(kill_host_at_exit, 0);
	exit_hook = true;
	/* tests name a stand-in module (test/gpu/fake_cuda.c) in the server's environment */
	if (stand_in != NULL && stand_in[0] != '\0')
		strlcpy(module_path, stand_in, sizeof(module_path));
	else
		snprintf(module_path, sizeof(module_path), "%s/libhybridsearch_cuda.so", pkglib_path);
	if (pipe(request) != 0 || pipe(reply) != 0)
	{
		snprintf(message, GPU_MESSAGE_LEN, "could not create the CUDA host's pipes: %m");
		return false;
	}
	pid = fork();
	if (pid == 0)
	{
		close(request[1]);
		close(reply[0]);
		cuda_host_child_main(channel, request[0], reply[1], worker, module_path);
	}
	close(request[0]);
	close(reply[1]);
	request_fd = request[1];
	reply_fd = reply[0];
	if (pid < 0)
	{
		snprintf(message, GPU_MESSAGE_LEN, "could not fork the CUDA host process: %m");
		close_pipes();
		return false;
	}
	host_pid = pid;
	started_at = GetCurrentTimestamp();
	host_begin_call(HOST_OP_HELLO);
	if (host_call(SETUP_TIMEOUT_MS, message) != HS_GPU_OK)
		return false;
	if (channel->reply.shared_mappings_left != 0)
		ereport(WARNING,
				(errmsg("hybridsearch GPU worker: the CUDA host process could not unmap %d shared memory mappings",
						channel->reply.shared_mappings_left)));
	log_round_trip();
	return host_pid != 0;
}

/* Stop the host in order (end of file on its request pipe), or kill it. */
void
cuda_host_stop(void)
{
	struct pollfd wait;
	char		how[128];

	if (host_pid == 0)
		return;
	close(request_fd);
	request_fd = -1;
	wait.fd = reply_fd;
	wait.events = POLLIN;
	if (poll(&wait, 1, STOP_TIMEOUT_MS) <= 0)
		kill(host_pid, SIGKILL);
	reap(how, sizeof(how));
	host_lanes_lost("the CUDA host process was stopped");
}

bool
cuda_host_running(void)
{
	return host_pid != 0;
}

/*
 * Whether the host died since the last time this was asked, and why.  An
 * idle host killed from outside shows as end of file on its reply pipe.
 */
bool
cuda_host_take_death(char *message)
{
	struct pollfd idle = {.fd = reply_fd,.events = POLLIN};

	if (host_pid != 0 && poll(&idle, 1, 0) > 0)
		lose_host(NULL);
	if (!died)
		return false;
	died = false;
	strlcpy(message, death, GPU_MESSAGE_LEN);
	return true;
}

/* Milliseconds until another host may start (0: now); -1 while one runs. */
long
cuda_host_restart_due(void)
{
	if (host_pid != 0)
		return -1;
	return TimestampDifferenceMilliseconds(GetCurrentTimestamp(), restart_at);
}

int
cuda_host_load(char *message)
{
	host_begin_call(HOST_OP_LOAD);
	return host_call(SETUP_TIMEOUT_MS, message);
}

int
cuda_host_device_count(int *count, char *message)
{
	int			rc;

	host_begin_call(HOST_OP_DEVICE_COUNT);
	rc = host_call(SETUP_TIMEOUT_MS, message);
	*count = rc == HS_GPU_OK ? channel->reply.count : 0;
	return rc;
}

int
cuda_host_open(int device, char *message)
{
	host_begin_call(HOST_OP_OPEN)->device = device;
	return host_call(SETUP_TIMEOUT_MS, message);
}

void
cuda_host_close(void)
{
	char		message[GPU_MESSAGE_LEN];

	host_begin_call(HOST_OP_CLOSE);
	(void) host_call(SETUP_TIMEOUT_MS, message);
}

HostMatrix
cuda_host_matrix_create(int device, int dim, bool half, char *message)
{
	HostCall   *call = host_begin_call(HOST_OP_MATRIX_CREATE);

	call->device = device;
	call->dim = dim;
	call->half = half;
	if (host_call(hybridsearch_gpu_timeout_ms, message) != HS_GPU_OK)
		return 0;
	return channel->reply.matrix;
}

void
cuda_host_matrix_free(HostMatrix matrix)
{
	char		message[GPU_MESSAGE_LEN];

	host_begin_call(HOST_OP_MATRIX_FREE)->matrices[0] = matrix;
	(void) host_call(hybridsearch_gpu_timeout_ms, message);
}

HostChannel *
host_channel(void)
{
	return channel;
}

/* Where rows to append go before cuda_host_matrix_append_staged, and how many floats fit. */
float *
cuda_host_staging(int64 *capacity_floats)
{
	*capacity_floats = HOST_STAGING_BYTES / sizeof(float);
	return (float *) channel->staging;
}

/*
 * A call on one matrix with a row count (an append or a reservation);
 * *rows and *bytes: the matrix's rows and device bytes after it.
 */
static int
matrix_call(HostOp op, HostMatrix matrix, int64 nrows, int64 *rows, Size *bytes, char *message)
{
	HostCall   *call = host_begin_call(op);
	int			rc;

	call->matrices[0] = matrix;
	call->nrows = nrows;
	rc = host_call(hybridsearch_gpu_timeout_ms, message);
	if (rc != CUDA_HOST_DIED)
	{
		*rows = channel->reply.rows;
		*bytes = channel->reply.bytes;
	}
	return rc;
}

/* Append the nrows rows staged; *rows and *bytes: the matrix's totals after. */
int
cuda_host_matrix_append_staged(HostMatrix matrix, int64 nrows, int64 *rows, Size *bytes,
							   char *message)
{
	return matrix_call(HOST_OP_MATRIX_APPEND, matrix, nrows, rows, bytes, message);
}

/* Room for nrows rows in all in the matrix; *bytes: its device bytes after. */
int
cuda_host_matrix_reserve(HostMatrix matrix, int64 nrows, Size *bytes, char *message)
{
	int64		rows;

	return matrix_call(HOST_OP_MATRIX_RESERVE, matrix, nrows, &rows, bytes, message);
}

/* A call that acts out a fault (HostFault) in the host. */
int
cuda_host_fault(int fault, char *message)
{
	host_begin_call(HOST_OP_PING)->fault = fault;
	return host_call(hybridsearch_gpu_timeout_ms, message);
}
