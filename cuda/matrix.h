/*
 * matrix.h
 *	  A matrix on one device (hs_gpu_matrix of the C API): its storage and
 *	  how rows are appended to it.
 */
#ifndef HS_MATRIX_H
#define HS_MATRIX_H

#include <stddef.h>
#include <stdint.h>

#include "hs_gpu.h"

struct DevCtx;

/*
 * Rows are row-major with the leading dimension ld = dim rounded up to a
 * multiple of 8 elements (16-byte vector loads), zero padded, with one fp32
 * squared norm per row.
 */
struct hs_gpu_matrix
{
	DevCtx	   *ctx;			/* the device holding it */
	int			dim;
	int			ld;
	int			half;			/* fp16 storage */
	int64_t		rows;
	int64_t		cap;			/* rows allocated */
	void	   *data;
	float	   *norms;
};

/* hs_gpu_matrix_reserve and hs_gpu_matrix_append with the device's mutex held */
int			reserve_locked(hs_gpu_matrix *m, int64_t nrows, char *errbuf, size_t errlen);
int			append_locked(hs_gpu_matrix *m, const float *rows, int64_t nrows,
						  char *errbuf, size_t errlen);

#endif							/* HS_MATRIX_H */
