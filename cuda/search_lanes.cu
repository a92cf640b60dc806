/*
 * search_lanes.cu
 *	  hs_gpu_search_start and hs_gpu_search_finish: a search over a striped
 *	  matrix in two halves, on one of HS_GPU_LANES lanes.
 *
 * The GPU worker starts the next batch before it waits for the last one,
 * so the device goes from one search's kernels to the next without
 * waiting for the host between them: the answer's wake-up, the next
 * batch's gathering and its launch happen while a search runs.  Each lane
 * holds one flight per part (device_context.h), the pinned memory and
 * events that must not be shared while two searches are on a stream.
 * Starting enqueues every part's search in turn (parts on several devices
 * then run at once without a thread each); finishing waits for each
 * part's own stop event, so it never waits for the other lane's search.
 */
#include <algorithm>
#include <exception>
#include <vector>

#include "api.h"
#include "device_context.h"
#include "matrix.h"
#include "parts.h"
#include "search.h"
#include "utils/errors.h"
#include "utils/signals.h"

struct Lane
{
	bool		started = false;
	int			nparts = 0;
	int			nq = 0;
	int			k = 0;
	hs_gpu_matrix *parts[HS_GPU_MAX_PARTS] = {};
	Flight		flights[HS_GPU_MAX_PARTS];
};

static Lane lanes[HS_GPU_LANES];

/*
 * Wait for whatever the first nparts parts of lane put on their streams,
 * ignoring errors: after a failed start, so that the lane's pinned memory
 * can be reused.
 */
static void
settle(Lane &lane, int nparts)
{
	char		errbuf[64];
	size_t		errlen = sizeof(errbuf);

	for (int p = 0; p < nparts; p++)
		with_matrix_locked(lane.parts[p], errbuf, errlen, [&]() {
			cudaSetDevice(lane.parts[p]->ctx->device);
			cudaStreamSynchronize(lane.parts[p]->ctx->stream);
			cudaGetLastError();
			return 0;
		});
}

static int
check_lane(int lane, char *errbuf, size_t errlen)
{
	if (lane < 0 || lane >= HS_GPU_LANES)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: lane %d out of range 0..%d",
					lane, HS_GPU_LANES - 1);
	return 0;
}

API int
hs_gpu_search_start(int lane, hs_gpu_matrix *const *parts, int nparts, int metric,
					const float *queries, int nqueries, int k, char *errbuf, size_t errlen)
{
	SignalsBlocked blocked;
	Lane	   *l;
	int			rc;

	if ((rc = check_lane(lane, errbuf, errlen)) != 0)
		return rc;
	l = &lanes[lane];
	if (l->started)
		return fail(errbuf, errlen, HS_GPU_EINVAL,
					"hybridsearch cuda: lane %d has a search started and not finished", lane);
	if (nparts < 1 || nparts > HS_GPU_MAX_PARTS || !parts)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: %d parts out of range 1..%d",
					nparts, HS_GPU_MAX_PARTS);
	for (int p = 0; p < nparts; p++)
		if (!parts[p])
			return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: no matrix");
	for (int p = 0; p < nparts; p++)
	{
		l->parts[p] = parts[p];
		rc = with_matrix_locked(parts[p], errbuf, errlen, [&]() {
			return search_start_locked(parts[p], l->flights[p], metric, queries, nqueries, k,
									   errbuf, errlen);
		});
		if (rc != 0)
		{
			settle(*l, p + 1);
			return rc;
		}
	}
	l->nparts = nparts;
	l->nq = nqueries;
	l->k = k;
	l->started = true;
	return 0;
}

/* part p's answer into d, rows; *ms its kernels' time */
static int
finish_part(Lane &lane, int p, float *d, int64_t *rows, float *ms, char *errbuf, size_t errlen)
{
	hs_gpu_matrix *m = lane.parts[p];

	return with_matrix_locked(m, errbuf, errlen, [&]() {
		return search_finish_locked(m, lane.flights[p], d, rows, ms, errbuf, errlen);
	});
}

/* the parts' answers, merged into the whole's (parts.h); *kernel_ms the longest part's */
static int
finish_parts(Lane &lane, float *out_d, int64_t *out_i, float *kernel_ms, char *errbuf, size_t errlen)
{
	size_t		per_part = (size_t) lane.nq * lane.k;
	std::vector<float> d(per_part * lane.nparts);
	std::vector<int64_t> rows(per_part * lane.nparts);
	std::vector<const float *> part_d(lane.nparts);
	std::vector<const int64_t *> part_rows(lane.nparts);
	int			failed = 0;

	for (int p = 0; p < lane.nparts; p++)
	{
		char		msg[256];
		float		ms = 0.0f;
		int			rc = finish_part(lane, p, &d[per_part * p], &rows[per_part * p], &ms,
									 msg, sizeof(msg));

		/* every part is waited for; a CUDA failure wins, as the caller resets after it */
		if (rc != 0 && (failed == 0 || rc == HS_GPU_ECUDA))
			failed = fail(errbuf, errlen, rc, "%s", msg);
		*kernel_ms = std::max(*kernel_ms, ms);
		part_d[p] = &d[per_part * p];
		part_rows[p] = &rows[per_part * p];
	}
	if (failed != 0)
		return failed;
	for (int q = 0; q < lane.nq; q++)
		merge_part_lists(part_d.data(), part_rows.data(), lane.nparts, q, lane.k, out_d, out_i);
	return 0;
}

API int
hs_gpu_search_finish(int lane, float *out_distances, int64_t *out_rows, float *kernel_ms,
					 char *errbuf, size_t errlen)
{
	SignalsBlocked blocked;
	Lane	   *l;
	float		ms = 0.0f;
	int			rc;

	if ((rc = check_lane(lane, errbuf, errlen)) != 0)
		return rc;
	l = &lanes[lane];
	if (!l->started)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: no search started on lane %d",
					lane);
	l->started = false;
	if (l->nq > 0 && (!out_distances || !out_rows))
	{
		settle(*l, l->nparts);
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: bad output arguments");
	}
	try
	{
		if (l->nparts == 1)
			rc = finish_part(*l, 0, out_distances, out_rows, &ms, errbuf, errlen);
		else
			rc = finish_parts(*l, out_distances, out_rows, &ms, errbuf, errlen);
	}
	catch (const std::exception &e)
	{
		settle(*l, l->nparts);
		return fail(errbuf, errlen, HS_GPU_ENOMEM, "hybridsearch cuda: merging the parts: %s",
					e.what());
	}
	if (kernel_ms)
		*kernel_ms = ms;
	return rc;
}

void
release_lanes(void)
{
	for (Lane &lane : lanes)
	{
		if (lane.started)
			settle(lane, lane.nparts);
		for (Flight &flight : lane.flights)
			flight_release(flight);
		lane = Lane();
	}
}
