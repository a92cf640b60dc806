/*
 * impl/convert.h
 *	  Bringing fp32 input into the stored form: appended rows and queries.
 */
#ifndef HS_IMPL_CONVERT_H
#define HS_IMPL_CONVERT_H

#include <cuda_runtime.h>
#include <cuda_fp16.h>

/*
 * n new rows, src (n x dim fp32, device) -> rows row0.. of data (ld
 * columns, fp16 if half, zero padded) and their squared norms in
 * norms[row0..]; asynchronous on stream.
 */
void		launch_append(const float *src, int dim, long long n, void *data, int half, int ld,
						  long long row0, float *norms, cudaStream_t stream);

/*
 * nq_pad queries (ld columns, device): the squared norms of the fp32 values
 * (qnorms32) and of their fp16 rounding (qnorms16), and the fp16 copy
 * (queries16, may be NULL); asynchronous on stream.
 */
void		launch_prep_queries(const float *queries, int nq_pad, int ld, float *qnorms32,
								float *qnorms16, __half *queries16, cudaStream_t stream);

#endif							/* HS_IMPL_CONVERT_H */
