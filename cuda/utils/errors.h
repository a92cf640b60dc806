/*
 * utils/errors.h
 *	  Turning failures into the C API's return codes and messages.
 *
 * Nothing in the module aborts: every failure becomes an HS_GPU_E* code and
 * a message in the caller's errbuf.  Functions that can fail take
 * (char *errbuf, size_t errlen) last, and the CUDA_CHECK macros use those
 * names.
 */
#ifndef HS_UTILS_ERRORS_H
#define HS_UTILS_ERRORS_H

#include <stddef.h>
#include <cuda_runtime.h>
#include <cublas_v2.h>

/* write the message (if errbuf) and return code */
int			fail(char *errbuf, size_t errlen, int code, const char *fmt, ...)
			__attribute__((format(printf, 4, 5)));

/* HS_GPU_ENOMEM for an allocation failure, else HS_GPU_ECUDA */
int			cuda_fail(char *errbuf, size_t errlen, cudaError_t e, const char *what);
int			blas_fail(char *errbuf, size_t errlen, cublasStatus_t s, const char *what);

#define CUDA_CHECK(call, what) \
	do { cudaError_t e_ = (call); if (e_ != cudaSuccess) return cuda_fail(errbuf, errlen, e_, what); } while (0)
/* after a kernel launch: the launch's own error */
#define CUDA_CHECK_LAUNCH(what) CUDA_CHECK(cudaGetLastError(), what)

#endif							/* HS_UTILS_ERRORS_H */
