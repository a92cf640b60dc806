/*
 * utils/buffers.cu
 *	  Growing scratch buffers, device or pinned host (see utils/buffers.h).
 */
#include <algorithm>
#include <atomic>
#include <cuda_runtime.h>

#include "hs_gpu.h"
#include "utils/buffers.h"
#include "utils/errors.h"

static std::atomic<unsigned long long> generation(1);

unsigned long long
scratch_generation(void)
{
	return generation.load();
}

static void
buf_free(ScratchBuf &b, bool pinned_host)
{
	if (b.ptr)
	{
		generation++;
		if (pinned_host)
			cudaFreeHost(b.ptr);
		else
			cudaFree(b.ptr);
	}
	b.ptr = NULL;
	b.capacity = 0;
}

/*
 * Grow b to at least bytes: device memory, or pinned host memory for
 * staging.  It grows by half again at least, so a slowly growing batch does
 * not reallocate every time; a device allocation retries at the exact size
 * before giving up.
 */
static int
buf_reserve(ScratchBuf &b, size_t bytes, bool pinned_host, char *errbuf, size_t errlen,
			const char *what)
{
	cudaError_t e;
	size_t		newcap;

	if (bytes <= b.capacity)
		return 0;
	newcap = std::max(bytes, b.capacity + b.capacity / 2);
	buf_free(b, pinned_host);
	e = pinned_host ? cudaHostAlloc(&b.ptr, newcap, cudaHostAllocDefault) : cudaMalloc(&b.ptr, newcap);
	if (e != cudaSuccess && !pinned_host && newcap > bytes)
	{
		cudaGetLastError();
		newcap = bytes;
		e = cudaMalloc(&b.ptr, newcap);
	}
	if (e != cudaSuccess)
	{
		cudaGetLastError();
		b.ptr = NULL;
		if (pinned_host)
			return fail(errbuf, errlen, HS_GPU_ENOMEM,
						"hybridsearch cuda: %s: pinned host allocation of %zu bytes failed: %s",
						what, newcap, cudaGetErrorString(e));
		return cuda_fail(errbuf, errlen, e, what);
	}
	b.capacity = newcap;
	return 0;
}

int
dbuf_reserve(ScratchBuf &b, size_t bytes, char *errbuf, size_t errlen, const char *what)
{
	return buf_reserve(b, bytes, false, errbuf, errlen, what);
}

int
hbuf_reserve(ScratchBuf &b, size_t bytes, char *errbuf, size_t errlen, const char *what)
{
	return buf_reserve(b, bytes, true, errbuf, errlen, what);
}

void
dbuf_free(ScratchBuf &b)
{
	buf_free(b, false);
}

void
hbuf_free(ScratchBuf &b)
{
	buf_free(b, true);
}
