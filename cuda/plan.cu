/*
 * plan.cu
 *	  Choosing the kernels for a search (plan.h): the candidates, the
 *	  heuristic for small matrices, and the autotuner.
 *
 * The first search of a TuneKey on a matrix of at least TUNE_MIN_ROWS rows
 * times every candidate on the caller's own matrix and queries (one warm-up
 * run, then the best of TUNE_REPS) and caches the fastest; smaller
 * matrices take the heuristic, since tuning would cost more than it saves.
 */
#include <stdio.h>
#include <algorithm>
#include <map>
#include <vector>

#include "device_context.h"
#include "matrix.h"
#include "plan.h"
#include "search.h"
#include "utils/distance.cuh"
#include "utils/errors.h"

#define TUNE_MIN_ROWS 50000
#define TUNE_REPS 3

static const FusedVariant *
find_fused(DevCtx &ctx, int half, int kind, int tq, int lpr, int r)
{
	for (int i = 0; i < ctx.nvariants[half]; i++)
	{
		const FusedVariant *v = &ctx.variants[half][i];

		if (v->kind == kind && v->tq == tq && v->lpr == lpr && v->r == r)
			return v;
	}
	return NULL;
}

/* lanes per row for a row of nvec 16-byte vectors: short rows share a warp */
static int
lpr_class(const hs_gpu_matrix *m)
{
	int			nvec = m->ld / (m->half ? 8 : 4);

	return nvec <= 2 ? 1 : nvec <= 16 ? 4 : 32;
}

void
plan_name(const Plan &p, char *buf, size_t len)
{
	if (p.gemm)
		snprintf(buf, len, "gemm+select");
	else
		snprintf(buf, len, "fused q%d r%d l%d (tile %d rows)", p.fv->tq, p.fv->r, p.fv->lpr,
				 fused_tile_rows(p.fv->lpr, p.fv->r));
}

/*
 * The plans worth timing: the fused variants of this row width with the two
 * query tiles nearest the batch (the one that covers it and the one below),
 * and GEMM + select for every metric but L1.
 */
static void
candidates(hs_gpu_matrix *m, int metric, int nq, std::vector<Plan> &out)
{
	DevCtx	   &ctx = *m->ctx;
	int			lpr = lpr_class(m);
	int			kind = metric_kind(metric);
	std::vector<int> tqs;
	int			hi = -1,
				lo = -1;

	for (int i = 0; i < ctx.nvariants[m->half]; i++)
	{
		const FusedVariant *v = &ctx.variants[m->half][i];

		if (v->kind == kind && v->lpr == lpr &&
			std::find(tqs.begin(), tqs.end(), v->tq) == tqs.end())
			tqs.push_back(v->tq);
	}
	std::sort(tqs.begin(), tqs.end());
	for (size_t i = 0; i < tqs.size(); i++)
		if (tqs[i] >= nq || i + 1 == tqs.size())
		{
			hi = tqs[i];
			lo = (i > 0 && nq > 1) ? tqs[i - 1] : -1;
			break;
		}
	for (int i = 0; i < ctx.nvariants[m->half]; i++)
	{
		const FusedVariant *v = &ctx.variants[m->half][i];

		if (v->kind == kind && v->lpr == lpr && (v->tq == hi || v->tq == lo))
		{
			Plan		p = {0, v};

			out.push_back(p);
		}
	}
	if (metric != HS_GPU_L1)
	{
		Plan		p = {1, NULL};

		out.push_back(p);
	}
}

/* untuned choice: a fused variant sized to the batch */
static Plan
heuristic(hs_gpu_matrix *m, int metric, int nq)
{
	DevCtx	   &ctx = *m->ctx;
	int			lpr = lpr_class(m);
	int			kind = metric_kind(metric);
	const FusedVariant *v;
	Plan		p = {0, NULL};

	if (lpr == 32)
		v = find_fused(ctx, m->half, kind, nq == 1 ? 1 : nq <= 4 ? 4 : 8, 32, nq == 1 ? 4 : 2);
	else
		v = find_fused(ctx, m->half, kind, nq == 1 ? 1 : 8, lpr, 1);
	p.fv = v;
	return p;
}

Plan
smallest_tile_plan(hs_gpu_matrix *m, int metric)
{
	int			lpr = lpr_class(m);
	Plan		p = {0, find_fused(*m->ctx, m->half, metric_kind(metric), 1, lpr, lpr == 32 ? 2 : 1)};

	return p;
}

/* *ms = the best of TUNE_REPS runs after a warm-up; -1 when infeasible */
static int
time_plan(hs_gpu_matrix *m, const Plan &p, int metric, int nq, int k, float *ms,
		  char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	Launch		launch;
	int			rc = prepare(m, p, metric, nq, k, launch, errbuf, errlen);
	float		best = 1e30f;

	if (rc != 0)
		return rc;
	if ((rc = execute(m, launch, errbuf, errlen)) != 0)
		return rc;
	for (int i = 0; i < TUNE_REPS; i++)
	{
		float		t;

		CUDA_CHECK(cudaEventRecord(ctx.ev_start, ctx.stream), "cudaEventRecord");
		if ((rc = execute(m, launch, errbuf, errlen)) != 0)
			return rc;
		CUDA_CHECK(cudaEventRecord(ctx.ev_stop, ctx.stream), "cudaEventRecord");
		CUDA_CHECK(cudaEventSynchronize(ctx.ev_stop), "autotune run");
		CUDA_CHECK(cudaEventElapsedTime(&t, ctx.ev_start, ctx.ev_stop), "cudaEventElapsedTime");
		best = std::min(best, t);
	}
	*ms = best;
	return 0;
}

int
choose_plan(hs_gpu_matrix *m, int metric, int nq, int k, Plan *out, char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	TuneKey		key;
	std::vector<Plan> candidate_plans;
	std::map<TuneKey, TuneEntry>::iterator it;
	int			bucket = 0,
				k_bucket = 0,
				rows_bucket = 0;

	while ((1 << bucket) < nq)
		bucket++;
	while (rows_bucket < 31 && (1LL << (2 * (rows_bucket + 1))) <= m->rows)
		rows_bucket++;			/* rows in [4^rows_bucket, 4^(rows_bucket + 1)) */
	k_bucket = k <= 32 ? 32 : k <= 128 ? 128 : k <= 512 ? 512 : HS_GPU_MAX_K;
	key.device = ctx.device;
	key.dim = m->dim;
	key.bucket = bucket;
	key.metric = metric;
	key.half = m->half;
	key.kbucket = k_bucket;
	key.rbucket = rows_bucket;
	it = ctx.tune_cache->find(key);
	if (it != ctx.tune_cache->end())
	{
		*out = it->second.plan;
		return 0;
	}
	candidates(m, metric, nq, candidate_plans);
	if (m->rows < TUNE_MIN_ROWS || candidate_plans.size() <= 1)
	{
		*out = heuristic(m, metric, nq);
		if (!out->fv)
			return fail(errbuf, errlen, HS_GPU_ECUDA, "hybridsearch cuda: no kernel variant for dim %d", m->dim);
		return 0;
	}

	{
		TuneEntry	e;
		float		best = 1e30f;
		char		line[256];
		int			found = 0;

		snprintf(line, sizeof(line), "dev%d dim=%d nq<=%d metric=%d %s k<=%d rows<4^%d (tuned at nq=%d k=%d rows=%lld):",
				 ctx.device, m->dim, 1 << bucket, metric, m->half ? "fp16" : "fp32", k_bucket,
				 rows_bucket + 1, nq, k, (long long) m->rows);
		e.report = line;
		for (size_t i = 0; i < candidate_plans.size(); i++)
		{
			float		ms = 0;
			char		name[64];
			int			rc = time_plan(m, candidate_plans[i], metric, nq, k, &ms, errbuf, errlen);

			plan_name(candidate_plans[i], name, sizeof(name));
			if (rc > 0)
				return rc;		/* a real error */
			if (rc < 0)
			{
				snprintf(line, sizeof(line), " [%s: infeasible]", name);
				e.report += line;
				continue;
			}
			snprintf(line, sizeof(line), " [%s %.3f ms]", name, ms);
			e.report += line;
			if (ms < best)
			{
				best = ms;
				e.plan = candidate_plans[i];
				found = 1;
			}
		}
		if (!found)
			return fail(errbuf, errlen, HS_GPU_ECUDA, "hybridsearch cuda: no feasible kernel variant (dim %d, k %d)",
						m->dim, k);
		{
			char		name[64];

			plan_name(e.plan, name, sizeof(name));
			e.report += " -> ";
			e.report += name;
		}
		(*ctx.tune_cache)[key] = e;
		*out = e.plan;
	}
	return 0;
}
