/*
 * blas.h
 *	  OpenBLAS's sgemm, loaded on first use in the backend that needs it.
 *
 * Linking OpenBLAS into the module would start its thread pool in every
 * process that loads the module, the postmaster first (with the preload),
 * and each backend would then run as many BLAS threads as there are cores
 * on top of hybridsearch.cpu_threads.  Instead the backend opens Debian's
 * libopenblas.so.0 (the alternatives link) with OPENBLAS_NUM_THREADS=1:
 * our own threads split the rows, and each calls a single-threaded sgemm.
 */
#ifndef HYBRIDSEARCH_BLAS_H
#define HYBRIDSEARCH_BLAS_H

/* C = Q * R^T: Q is nq x dim (row-major, ld dim), R rows x dim (ld ldr). */
typedef void (*SgemmQueriesByRows) (int nq, int rows, int dim, const float *queries,
									const float *rows_values, int ldr, float *dots);

extern SgemmQueriesByRows blas_sgemm(void);

#endif							/* HYBRIDSEARCH_BLAS_H */
