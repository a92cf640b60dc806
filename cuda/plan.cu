/*
 * plan.cu
 *	  Choosing the kernels for a search (plan.h): the candidates, the
 *	  heuristic for small matrices, and the autotuner.
 *
 * Matrices of at least TUNE_MIN_ROWS rows tune each TuneKey on the
 * caller's own matrix and queries: every candidate runs once to warm up,
 * then TUNE_REPS timed runs, and the one of the lowest median is cached
 * (the fastest single run favoured variants whose times vary: a tensor
 * variant at one query whose best of three was 0.393 ms and median 0.45
 * won against a fused one of 0.41).  A run is timed as
 * a search settled on its plan would run: a GEMM plan over several chunks
 * as its CUDA graph (search.h, tuning_run).  Timed call by call instead,
 * such a plan lost at 10M rows to a tensor plan 20-30% slower than its
 * graph (doc/gpu-kernels.md, "The tensor path").  The worker serves
 * every index's searches one after the other, and tuning a 10M-row matrix
 * takes 16 or more full passes (about 140 ms), so by default a search adds
 * one of those runs to itself (tune_runs_per_search) and takes the fastest
 * candidate timed so far (by median); test/gpu/kernel_check asks for all runs in the
 * first search.  Every run of a key uses the same batch size, the smallest
 * the key has seen (a smaller batch starts its tuning over), so that every
 * later search of the key can lend its first queries to a run.
 * Smaller matrices take the heuristic, since tuning would cost more than
 * it saves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <algorithm>
#include <string>
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
#define TUNE_RUNS (1 + TUNE_REPS)

static int	tune_runs_per_search = 1;

/* HS_GPU_PLANS in the environment sets it when the module loads, so that
 * a server can be measured with one path (hs_gpu.h) */
static std::string plan_filter = getenv("HS_GPU_PLANS") ? getenv("HS_GPU_PLANS") : "";

void
set_tune_runs_per_search(int runs)
{
	tune_runs_per_search = runs;
}

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
set_plan_filter(const char *part)
{
	plan_filter = part ? part : "";
}

void
plan_name(const Plan &p, char *buf, size_t len)
{
	if (p.gemm)
		snprintf(buf, len, "gemm+select");
	else if (p.tv)
		snprintf(buf, len, "tensor q%d w%d m%d s%d e%d (tile %d rows)", p.tv->tq, p.tv->warps,
				 p.tv->mt, p.tv->stages, p.tv->slack, tensor_tile_rows(p.tv->warps, p.tv->mt));
	else
		snprintf(buf, len, "fused q%d r%d l%d (tile %d rows)", p.fv->tq, p.fv->r, p.fv->lpr,
				 fused_tile_rows(p.fv->lpr, p.fv->r));
}

/*
 * Of query tiles (distinct, ascending), the two nearest a batch of nq: *hi
 * the smallest that covers it (the largest for larger batches), *lo the one
 * below, which takes the batch in two or more tiles; -1 where there is none.
 */
static void
nearest_tiles(const std::vector<int> &tiles, int nq, int *hi, int *lo)
{
	*hi = *lo = -1;
	for (size_t i = 0; i < tiles.size(); i++)
		if (tiles[i] >= nq || i + 1 == tiles.size())
		{
			*hi = tiles[i];
			*lo = (i > 0 && nq > 1) ? tiles[i - 1] : -1;
			return;
		}
}

/* add tq to tiles unless it is there; the caller sorts them */
static void
add_tile(std::vector<int> &tiles, int tq)
{
	if (std::find(tiles.begin(), tiles.end(), tq) == tiles.end())
		tiles.push_back(tq);
}

/*
 * The tensor variants of the query tile that covers the batch (the largest
 * for larger batches; nearest_tiles), for every metric but L1.  The tile
 * below was a candidate too, taking the batch in two or more tiles, and
 * never won: at 1M x 768 (H200) two q32 tiles took 1.2-2.0x GEMM's graph
 * for every key of 64 and 128 queries.  A batch just past a tile is
 * launched as a full tile of the bucket below instead (launch_size).
 */
static void
tensor_candidates(hs_gpu_matrix *m, int metric, int nq, std::vector<Plan> &out)
{
	DevCtx	   &ctx = *m->ctx;
	std::vector<int> tiles;
	int			covering,
				below;

	if (metric == HS_GPU_L1)
		return;
	for (int i = 0; i < ctx.ntensor_variants[m->half]; i++)
		add_tile(tiles, ctx.tensor_variants[m->half][i].tq);
	std::sort(tiles.begin(), tiles.end());
	nearest_tiles(tiles, nq, &covering, &below);
	for (int i = 0; i < ctx.ntensor_variants[m->half]; i++)
		if (ctx.tensor_variants[m->half][i].tq == covering)
		{
			Plan		p = {0, NULL, &ctx.tensor_variants[m->half][i]};

			out.push_back(p);
		}
}

/* whether the plan filter is set and names p */
static bool
filter_names(const Plan &p)
{
	char		name[64];

	plan_name(p, name, sizeof(name));
	return !plan_filter.empty() && strstr(name, plan_filter.c_str()) != NULL;
}

/* keep the plans the filter names, if it names any */
static void
apply_plan_filter(std::vector<Plan> &plans)
{
	std::vector<Plan> kept;

	for (const Plan &p : plans)
		if (filter_names(p))
			kept.push_back(p);
	if (!kept.empty())
		plans.swap(kept);
}

/*
 * The plans worth timing: GEMM + select for every metric but L1, then the
 * fused variants of this row width with the two query tiles nearest the
 * batch (nearest_tiles), then the tensor variants of the tile that covers
 * it; only those the plan filter names, if it names any.  A batch
 * larger than every fused tile makes the fused kernel read the rows once
 * per tile: at 32 queries (1M x 768, H200) its five candidates took
 * 3.3-4.9 ms against 0.6-1.2 for GEMM, and four runs of each only held
 * the device, so there it is timed only for L1, which has nothing else.
 */
static void
candidates(hs_gpu_matrix *m, int metric, int nq, std::vector<Plan> &out)
{
	DevCtx	   &ctx = *m->ctx;
	int			lpr = lpr_class(m);
	int			kind = metric_kind(metric);
	std::vector<int> tqs;
	int			hi,
				lo;

	for (int i = 0; i < ctx.nvariants[m->half]; i++)
	{
		const FusedVariant *v = &ctx.variants[m->half][i];

		if (v->kind == kind && v->lpr == lpr)
			add_tile(tqs, v->tq);
	}
	std::sort(tqs.begin(), tqs.end());
	nearest_tiles(tqs, nq, &hi, &lo);
	if (metric != HS_GPU_L1 && !tqs.empty() && nq > tqs.back())
		hi = lo = -1;
	for (int i = 0; i < ctx.nvariants[m->half]; i++)
	{
		const FusedVariant *v = &ctx.variants[m->half][i];

		if (v->kind == kind && v->lpr == lpr && (v->tq == hi || v->tq == lo))
		{
			Plan		p = {0, v, NULL};

			out.push_back(p);
		}
	}
	if (metric != HS_GPU_L1)
	{
		Plan		p = {1, NULL, NULL};

		out.insert(out.begin(), p);	/* first: the best default at most sizes */
	}
	tensor_candidates(m, metric, nq, out);
	apply_plan_filter(out);
}

/* untuned choice: a fused variant sized to the batch */
static Plan
heuristic(hs_gpu_matrix *m, int metric, int nq)
{
	DevCtx	   &ctx = *m->ctx;
	int			lpr = lpr_class(m);
	int			kind = metric_kind(metric);
	const FusedVariant *v;
	Plan		p = {0, NULL, NULL};

	if (lpr == 32)
		v = find_fused(ctx, m->half, kind, nq == 1 ? 1 : nq <= 4 ? 4 : 8, 32, nq == 1 ? 4 : 2);
	else
		v = find_fused(ctx, m->half, kind, nq == 1 ? 1 : 8, lpr, 1);
	p.fv = v;
	if (!plan_filter.empty())
	{
		std::vector<Plan> named;

		candidates(m, metric, nq, named);
		if (!named.empty() && filter_names(named.front()))
			p = named.front();
	}
	return p;
}

Plan
smallest_tile_plan(hs_gpu_matrix *m, int metric)
{
	int			lpr = lpr_class(m);
	Plan		p = {0, find_fused(*m->ctx, m->half, metric_kind(metric), 1, lpr, lpr == 32 ? 2 : 1), NULL};

	return p;
}

/* untuned choice: the heuristic's fused variant, an error if there is none */
static int
untuned_plan(hs_gpu_matrix *m, int metric, int nq, Plan *out, char *errbuf, size_t errlen)
{
	*out = heuristic(m, metric, nq);
	if (!out->gemm && !out->fv && !out->tv)
		return fail(errbuf, errlen, HS_GPU_ECUDA, "hybridsearch cuda: no kernel variant for dim %d", m->dim);
	return 0;
}

/* (re)start tuning e at batch nq and k */
static void
start_tuning(hs_gpu_matrix *m, TuneEntry &e, int metric, int nq, int k)
{
	e.tuned = false;
	e.candidates.clear();
	candidates(m, metric, nq, e.candidates);
	e.timed.assign(e.candidates.size(), std::vector<float>());
	e.ms.assign(e.candidates.size(), 1e30f);
	e.runs.assign(e.candidates.size(), 0);
	e.next = 0;
	e.nq = nq;
	e.k = k;
	e.plan_ms = -1;
	e.report = "(being tuned)";
}

/* add ms to a candidate's timed runs; their median (of two, the larger) */
static float
median_ms(std::vector<float> &timed, float ms)
{
	timed.push_back(ms);
	std::sort(timed.begin(), timed.end());
	return timed[timed.size() / 2];
}

/* one run of candidate e.next at (e.nq, e.k), on the queries already on the device */
static int
tune_step(hs_gpu_matrix *m, TuneEntry &e, int metric, char *errbuf, size_t errlen)
{
	size_t		i = e.next;
	float		ms;
	int			rc = tuning_run(m, e.candidates[i], metric, e.nq, e.k, &ms, errbuf, errlen);

	if (rc > 0)
		return rc;
	if (rc < 0)
	{
		e.ms[i] = -1;			/* infeasible */
		e.runs[i] = TUNE_RUNS;
	}
	else if (e.runs[i]++ > 0)	/* the first run is the warm-up (and the capture) */
		e.ms[i] = median_ms(e.timed[i], ms);
	if (e.runs[i] >= TUNE_RUNS)
		e.next++;
	return 0;
}

/*
 * The fastest candidate timed so far; before any timed run, the first that
 * ran (so it fits); -1 if none has
 */
static int
fastest_candidate(const TuneEntry &e)
{
	int			best = -1,
				ran = -1;

	for (size_t i = 0; i < e.candidates.size(); i++)
	{
		if (e.ms[i] < 0 || e.runs[i] == 0)
			continue;
		if (ran < 0)
			ran = (int) i;
		if (e.runs[i] > 1 && (best < 0 || e.ms[i] < e.ms[best]))
			best = (int) i;
	}
	return best >= 0 ? best : ran;
}

/* every candidate has run: keep the fastest, with every candidate's median time */
static int
finish_tuning(hs_gpu_matrix *m, const TuneKey &key, TuneEntry &e, char *errbuf, size_t errlen)
{
	int			best = fastest_candidate(e);
	Plan		smallest = smallest_tile_plan(m, key.metric);
	char		line[256];
	char		name[64];

	/* no candidate fits k (a plan filter may leave only tensor plans): the
	 * smallest fused tile, which the search still shrinks or refuses */
	if (best < 0 && !smallest.fv)
		return fail(errbuf, errlen, HS_GPU_ECUDA, "hybridsearch cuda: no feasible kernel variant (dim %d, k %d)",
					m->dim, e.k);
	snprintf(line, sizeof(line), "dev%d dim=%d nq<=%d metric=%d %s k<=%d rows<4^%d (tuned at nq=%d k=%d rows=%lld):",
			 key.device, key.dim, 1 << key.bucket, key.metric, key.half ? "fp16" : "fp32", key.kbucket,
			 key.rbucket + 1, e.nq, e.k, (long long) m->rows);
	e.report = line;
	for (size_t i = 0; i < e.candidates.size(); i++)
	{
		plan_name(e.candidates[i], name, sizeof(name));
		if (e.ms[i] < 0)
			snprintf(line, sizeof(line), " [%s: infeasible]", name);
		else
			snprintf(line, sizeof(line), " [%s %.3f ms]", name, e.ms[i]);
		e.report += line;
	}
	e.plan = best >= 0 ? e.candidates[best] : smallest;
	e.plan_ms = best >= 0 ? e.ms[best] : -1;
	plan_name(e.plan, name, sizeof(name));
	e.report += " -> ";
	e.report += name;
	e.tuned = true;
	e.candidates.clear();
	e.timed.clear();
	e.ms.clear();
	e.runs.clear();
	return 0;
}

static TuneKey
tune_key(const hs_gpu_matrix *m, int metric, int nq, int k)
{
	TuneKey		key;
	int			bucket = 0,
				rows_bucket = 0;

	while ((1 << bucket) < nq)
		bucket++;
	while (rows_bucket < 31 && (1LL << (2 * (rows_bucket + 1))) <= m->rows)
		rows_bucket++;			/* rows in [4^rows_bucket, 4^(rows_bucket + 1)) */
	key.device = m->ctx->device;
	key.dim = m->dim;
	key.bucket = bucket;
	key.metric = metric;
	key.half = m->half;
	key.kbucket = k <= 16 ? 16 : k <= 32 ? 32 : k <= 128 ? 128 : k <= 512 ? 512 : HS_GPU_MAX_K;
	key.rbucket = rows_bucket;
	return key;
}

bool
settled_plan(hs_gpu_matrix *m, int metric, int nq, int k, Plan *out)
{
	std::map<TuneKey, TuneEntry>::iterator it = m->ctx->tune_cache->find(tune_key(m, metric, nq, k));

	if (it != m->ctx->tune_cache->end())
	{
		*out = it->second.plan;
		return it->second.tuned;
	}
	if (m->rows >= TUNE_MIN_ROWS)
		return false;
	*out = heuristic(m, metric, nq);
	return out->gemm || out->fv != NULL || out->tv != NULL;
}

int
choose_plan(hs_gpu_matrix *m, int metric, int nq, int k, Plan *out, char *errbuf, size_t errlen)
{
	DevCtx	   &ctx = *m->ctx;
	TuneKey		key = tune_key(m, metric, nq, k);
	std::map<TuneKey, TuneEntry>::iterator it;
	int			steps = tune_runs_per_search,
				rc;

	it = ctx.tune_cache->find(key);
	if (it != ctx.tune_cache->end() && it->second.tuned)
	{
		*out = it->second.plan;
		return 0;
	}
	if (it == ctx.tune_cache->end())
	{
		TuneEntry	e;

		if (m->rows < TUNE_MIN_ROWS)
			return untuned_plan(m, metric, nq, out, errbuf, errlen);
		start_tuning(m, e, metric, nq, k);
		if (e.candidates.empty())
			return untuned_plan(m, metric, nq, out, errbuf, errlen);
		it = ctx.tune_cache->insert(std::make_pair(key, e)).first;
	}

	TuneEntry  &e = it->second;

	if (nq < e.nq)
		start_tuning(m, e, metric, nq, k);
	while (e.next < e.candidates.size() && (tune_runs_per_search <= 0 || steps-- > 0))
		if ((rc = tune_step(m, e, metric, errbuf, errlen)) != 0)
			return rc;
	if (e.next >= e.candidates.size())
	{
		if ((rc = finish_tuning(m, key, e, errbuf, errlen)) != 0)
			return rc;
		*out = e.plan;
		return 0;
	}
	if ((rc = fastest_candidate(e)) >= 0)
	{
		*out = e.candidates[rc];
		return 0;
	}
	return untuned_plan(m, metric, nq, out, errbuf, errlen);
}

/*
 * A smaller launch must serve this many times the queries a millisecond of
 * the whole batch: more than the tuned medians' noise (1-2%).  Leaving
 * queries for the next launch costs them a launch's wait, but with every
 * client waiting on its answer the mean wait falls as the rate rises.
 */
#define LAUNCH_GAIN 1.05f

/*
 * The tuned median time of the plan for this kind of search; -1 while it
 * is not tuned (absent or being tuned), 0 when tuned without a time (no
 * candidate was feasible).
 */
static float
tuned_ms(hs_gpu_matrix *m, int metric, int nq, int k)
{
	std::map<TuneKey, TuneEntry>::iterator it = m->ctx->tune_cache->find(tune_key(m, metric, nq, k));

	if (it == m->ctx->tune_cache->end() || !it->second.tuned)
		return -1;
	return std::max(it->second.plan_ms, 0.0f);
}

/*
 * Batches are tuned per power-of-two bucket, and a batch just past a tile
 * may run a plan that serves fewer queries a millisecond than a full tile
 * of a bucket below: at 1M x 768, k 20 (H200), 32 queries took 1.010 ms
 * (fp32) and 0.543 (fp16) by the tensor kernel, while the 64 bucket runs
 * GEMM's graph, about 1.11 ms in full precision for the launches of about
 * 33 queries that 64 clients make through SQL.  Each bucket's time is
 * taken as its plan's, tuned at one batch in it (its smallest seen).
 *
 * A bucket is tuned only by launches in it, and launches that always come
 * just past a tile would never tune the bucket below: there 64 clients in
 * full precision kept GEMM's graph for every launch.  So while the bucket
 * below is not tuned, a batch within a quarter of a tile past it launches
 * one full tile, and these launches tune it.
 */
int
launch_size(hs_gpu_matrix *m, int metric, int nq, int k)
{
	float		whole_ms = tuned_ms(m, metric, nq, k);
	int			below = 1,
				best = nq;
	float		best_rate;

	if (whole_ms <= 0 || nq < 2)
		return nq;
	while (below * 2 < nq)
		below *= 2;
	if (nq <= below + below / 4 && tuned_ms(m, metric, below, k) < 0)
		return below;
	best_rate = LAUNCH_GAIN * nq / whole_ms;
	for (int tile = 1; tile < nq; tile <<= 1)
	{
		float		ms = tuned_ms(m, metric, tile, k);

		if (ms > 0 && tile / ms > best_rate)
		{
			best = tile;
			best_rate = tile / ms;
		}
	}
	return best;
}
