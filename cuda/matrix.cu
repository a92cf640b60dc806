/*
 * matrix.cu
 *	  Growing a device matrix and appending rows to it (matrix.h).
 *
 * Storage doubles when full (copied device to device), so the cost of an
 * append is proportional to its rows.  New rows go through two pinned
 * STAGE_BYTES staging buffers, so the host copy of one chunk overlaps the
 * transfer and conversion of the previous one.
 */
#include <string.h>
#include <algorithm>

#include "device_context.h"
#include "impl/convert.h"
#include "matrix.h"
#include "utils/errors.h"

#define STAGE_BYTES (32u << 20)

/*
 * Capacity for at least need rows: geometric growth for appends, exactly
 * need for a reservation.  On failure the matrix is unchanged.
 */
static int
grow_locked(hs_gpu_matrix *m, int64_t need, bool geometric, char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	size_t		elt = m->half ? 2 : 4;
	int64_t		want = geometric ? std::max<int64_t>(need, std::max<int64_t>(m->cap * 2, 1024)) : need;
	void	   *new_data = NULL;
	float	   *new_norms = NULL;
	cudaError_t e;

	want = std::min<int64_t>(want, HS_GPU_MAX_ROWS);
	for (;;)
	{
		e = cudaMalloc(&new_data, (size_t) want * m->ld * elt);
		if (e == cudaSuccess)
		{
			e = cudaMalloc((void **) &new_norms, (size_t) want * 4);
			if (e != cudaSuccess)
			{
				cudaFree(new_data);
				new_data = NULL;
			}
		}
		if (e == cudaSuccess)
			break;
		cudaGetLastError();
		if (want == need)
			return cuda_fail(errbuf, errlen, e, "growing the device matrix");
		want = need;			/* geometric growth did not fit: exact */
	}
	if (m->rows > 0)
	{
		CUDA_CHECK(cudaMemcpyAsync(new_data, m->data, (size_t) m->rows * m->ld * elt,
								   cudaMemcpyDeviceToDevice, ctx.stream),
				   "copying the matrix");
		CUDA_CHECK(cudaMemcpyAsync(new_norms, m->norms, (size_t) m->rows * 4, cudaMemcpyDeviceToDevice,
								   ctx.stream),
				   "copying the norms");
	}
	e = cudaStreamSynchronize(ctx.stream);
	if (e != cudaSuccess)
	{
		cudaFree(new_data);
		cudaFree(new_norms);
		return cuda_fail(errbuf, errlen, e, "copying the matrix");
	}
	if (m->data)
		cudaFree(m->data);
	if (m->norms)
		cudaFree(m->norms);
	m->data = new_data;
	m->norms = new_norms;
	m->cap = want;
	return 0;
}

int
reserve_locked(hs_gpu_matrix *m, int64_t nrows, char *errbuf, size_t errlen)
{
	if (nrows < 0 || nrows > HS_GPU_MAX_ROWS)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: cannot reserve %lld rows",
					(long long) nrows);
	if (nrows <= m->cap)
		return 0;
	CUDA_CHECK(cudaSetDevice(m->ctx->device), "cudaSetDevice");
	return grow_locked(m, nrows, false, errbuf, errlen);
}

int
append_locked(hs_gpu_matrix *m, const float *rows, int64_t nrows, char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	int64_t		chunk = std::max<int64_t>(1, STAGE_BYTES / ((size_t) m->dim * 4));
	int			rc;

	if (nrows < 0 || (nrows > 0 && !rows))
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: bad rows argument");
	if (nrows == 0)
		return 0;
	if (m->rows + nrows > HS_GPU_MAX_ROWS)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: more than %lld rows",
					(long long) HS_GPU_MAX_ROWS);
	CUDA_CHECK(cudaSetDevice(ctx.device), "cudaSetDevice");
	if (m->rows + nrows > m->cap && (rc = grow_locked(m, m->rows + nrows, true, errbuf, errlen)) != 0)
		return rc;
	chunk = std::min(chunk, nrows);
	for (int i = 0; i < 2; i++)
	{
		if ((rc = hbuf_reserve(ctx.host_stage[i], (size_t) chunk * m->dim * 4, errbuf, errlen,
							   "append staging")) != 0)
			return rc;
		if ((rc = dbuf_reserve(ctx.stage[i], (size_t) chunk * m->dim * 4, errbuf, errlen,
							   "append staging")) != 0)
			return rc;
	}
	for (int64_t off = 0, it = 0; off < nrows; off += chunk, it++)
	{
		int			b = (int) (it & 1);
		int64_t		n = std::min(chunk, nrows - off);
		int64_t		row0 = m->rows + off;

		/* the copy that last read this staging buffer is done */
		CUDA_CHECK(cudaEventSynchronize(ctx.stage_done[b]), "append staging");
		memcpy(ctx.host_stage[b].ptr, rows + (size_t) off * m->dim, (size_t) n * m->dim * 4);
		CUDA_CHECK(cudaMemcpyAsync(ctx.stage[b].ptr, ctx.host_stage[b].ptr, (size_t) n * m->dim * 4,
								   cudaMemcpyHostToDevice, ctx.stream),
				   "copying rows to the device");
		launch_append((const float *) ctx.stage[b].ptr, m->dim, n, m->data, m->half, m->ld, row0, m->norms,
					  ctx.stream);
		CUDA_CHECK_LAUNCH("append kernel");
		CUDA_CHECK(cudaEventRecord(ctx.stage_done[b], ctx.stream), "cudaEventRecord");
	}
	CUDA_CHECK(cudaStreamSynchronize(ctx.stream), "appending rows");
	m->rows += nrows;
	return 0;
}
