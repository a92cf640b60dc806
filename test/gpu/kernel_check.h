/*
 * kernel_check.h
 *	  What the parts of test/gpu/kernel_check share: the CUDA module's API
 *	  as loaded with dlopen(), the test matrices, the float64 reference and
 *	  its checks, and the groups.
 *
 *	  kernel_check.c            options, loading the module, the groups in turn
 *	  kernel_check_reference.c  test data, the float64 reference, the checks
 *	  kernel_check_matrix.c     test matrices on the GPU, one checked search
 *	  kernel_check_groups.c     the correctness groups (A-G, P, S)
 *	  kernel_check_timing.c     the timing groups (M, T, O)
 *	  kernel_check_lanes.c      searches in flight on two lanes (Y)
 */
#ifndef KERNEL_CHECK_H
#define KERNEL_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "hs_gpu.h"

/* the API through dlopen (kernel_check.c loads it) */
typedef struct KcApi
{
	int			(*open) (int, char *, size_t);
	void		(*close) (void);
	int			(*device_count) (int *, char *, size_t);
	hs_gpu_matrix *(*create) (int, int, int, char *, size_t);
	int			(*append) (hs_gpu_matrix *, const float *, int64_t, char *, size_t);
	int64_t		(*rows) (const hs_gpu_matrix *);
	size_t		(*bytes) (const hs_gpu_matrix *);
	void		(*mfree) (hs_gpu_matrix *);
	int			(*search) (hs_gpu_matrix *, int, const float *, int, int, float *, int64_t *,
						   float *, char *, size_t);
	int			(*search_parts) (hs_gpu_matrix *const *, int, int, const float *, int, int, float *,
								 int64_t *, float *, char *, size_t);
	size_t		(*tune_report) (char *, size_t);
	size_t		(*last_variant) (char *, size_t);
	int			(*bench) (hs_gpu_matrix *, int, int, float *, float *, float *, char *, size_t);
	void		(*set_tune_runs) (int);	/* NULL in builds that tune in one search */
	void		(*set_graphs) (int);	/* NULL in builds without graphs */
	void		(*set_plan_filter) (const char *);	/* NULL in builds without it */
	int			(*launch_size) (hs_gpu_matrix *const *, int, int, int, int);	/* likewise */
	/* NULL in builds before API version 3 (group Y says so) */
	int			(*search_start) (int, hs_gpu_matrix *const *, int, int, const float *, int, int,
								 char *, size_t);
	int			(*search_finish) (int, float *, int64_t *, float *, char *, size_t);
} KcApi;

extern KcApi api;

typedef struct
{
	long		searches;
	long		checked;		/* queries compared with the reference */
	long		fails;
	long		tol_misses;		/* true neighbours outside, within tolerance */
	double		max_rel;		/* largest |gpu - exact| / tolerance */
	long		filtered;		/* searches that ran a plan --plans names */
} Stats;

typedef struct
{
	int64_t		n;
	int			dim;
	float	   *rows;			/* host copy */
	double	   *rn2;			/* squared norms */
	double	   *rl1;			/* L1 norms */
	hs_gpu_matrix *gm[2];		/* fp32, fp16 */
	int			nparts;			/* > 1: searched as these stripes (mat_split) */
	hs_gpu_matrix *parts[2][HS_GPU_MAX_PARTS];
} Mat;

#define POISON_BITS 0x7fa5a5a5u
#define POISON_ROW	((int64_t) 0x5a5a5a5a5a5a5a5aLL)

static inline int
is_poison(float f)
{
	uint32_t	u;

	memcpy(&u, &f, 4);
	return u == POISON_BITS;
}

extern const char *metric_name[];
extern const int batches[4];	/* the batch sizes most groups run */
extern long total_fails;
extern int	ndevices;			/* devices opened */
extern char errbuf[1024];		/* the last API call's message */
extern const char *plan_filter;	/* --plans, or NULL */

/* kernel_check_reference.c */
extern double now_s(void);
extern void gen(float *dst, int64_t n, int dim, uint64_t seed, int mode);
extern void
report_fail(Stats *st, const char *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
extern int	check_structure(Stats *st, const char *ctx, int64_t n, int kreq, const float *gd,
							const int64_t *gi);
extern void check_reference(Stats *st, const char *ctx, const Mat *M, int metric, int half,
							const float *q, int kreq, int ktrue, const float *gd, const int64_t *gi);
extern void print_stats(const char *name, const Stats *st, double secs);
extern int	cmp_f(const void *a, const void *b);

/* kernel_check_matrix.c */
extern void mat_build(Mat *M, int64_t n, int dim, uint64_t seed, int mode, int zero_row);
extern void mat_split(Mat *M, int nparts);
extern int	mat_search(Mat *M, int half, int metric, const float *q, int batch, int k, float *d,
					   int64_t *r, float *ms);
extern void mat_free(Mat *M);
extern void run_case(Stats *st, const char *group, Mat *M, int metric, int half, int batch, int ktrue,
					 int nsample, uint64_t seed);
extern int	search_once(hs_gpu_matrix *m, int metric, const float *q, int batch, int k, float *d,
						int64_t *r, char *var, size_t varlen);
extern int64_t repeat_and_compare(Stats *st, const char *ctx, hs_gpu_matrix *m, int metric,
								  const float *q, int batch, int k, int graph_if_gemm, float *d,
								  int64_t *r);

/* kernel_check_groups.c */
extern void group_A(void);
extern void group_big(const char *name, int64_t n, const int *dims, int ndims, int nsample);
extern void group_D(void);
extern void group_E(void);
extern void group_F(void);
extern void group_G(int graphs);
extern void group_L(void);
extern void group_P(void);
extern void group_S(int big);

/* kernel_check_timing.c */
extern void group_M(int reps);
extern void group_T(int reps);
extern void group_O(int reps);

/* kernel_check_lanes.c */
extern void group_Y(int reps);

#endif							/* KERNEL_CHECK_H */
