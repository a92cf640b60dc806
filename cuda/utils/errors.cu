/*
 * utils/errors.cu
 *	  Messages for the C API's error codes (see utils/errors.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "hs_gpu.h"
#include "utils/errors.h"

int
fail(char *errbuf, size_t errlen, int code, const char *fmt, ...)
{
	if (errbuf && errlen > 0)
	{
		va_list		ap;

		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

int
cuda_fail(char *errbuf, size_t errlen, cudaError_t e, const char *what)
{
	int			code = (e == cudaErrorMemoryAllocation) ? HS_GPU_ENOMEM : HS_GPU_ECUDA;

	return fail(errbuf, errlen, code, "hybridsearch cuda: %s: %s (%s)%s", what,
				cudaGetErrorString(e), cudaGetErrorName(e),
				code == HS_GPU_ENOMEM ? " [out of device memory]" : "");
}

int
blas_fail(char *errbuf, size_t errlen, cublasStatus_t s, const char *what)
{
	int			code = (s == CUBLAS_STATUS_ALLOC_FAILED) ? HS_GPU_ENOMEM : HS_GPU_ECUDA;

	return fail(errbuf, errlen, code, "hybridsearch cublas: %s: %s (%d)%s", what,
				cublasGetStatusString(s), (int) s,
				code == HS_GPU_ENOMEM ? " [out of device memory]" : "");
}
