/*
 * search_parts.cu
 *	  hs_gpu_search_parts: one search over a matrix striped in parts.
 *
 * Row r of the whole is row r / nparts of parts[r % nparts].  Each part is
 * searched with hs_gpu_search on a host thread of its own, part 0 on the
 * caller's (parts on different devices run at once; parts on one device
 * take turns on its mutex), then the parts' lists are merged on the host
 * in hs_gpu_search's order, with the whole's row numbers.
 */
#include <stdint.h>
#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

#include "api.h"
#include "utils/errors.h"
#include "utils/signals.h"

/* One part's search, run on a thread of its own. */
struct PartSearch
{
	hs_gpu_matrix *m;
	std::vector<float> d;
	std::vector<int64_t> rows;
	float		ms;
	int			rc;
	char		msg[256];
};

/*
 * The order of hs_gpu_search's results: distance, then row; NaN distances
 * after every other; empty slots (row -1) last.
 */
struct Candidate
{
	float		d;
	int64_t		row;

	int rank() const { return row < 0 ? 2 : d != d ? 1 : 0; }
	bool operator<(const Candidate &o) const
	{
		if (rank() != o.rank()) return rank() < o.rank();
		if (rank() == 0 && d != o.d) return d < o.d;
		return row < o.row;
	}
};

/* Merge the parts' lists of one query; part p's row r is row r * nparts + p. */
static void
merge_parts(const std::vector<PartSearch> &ps, int q, int k, float *out_d, int64_t *out_i)
{
	int			nparts = (int) ps.size();
	std::vector<Candidate> all;

	all.reserve((size_t) nparts * k);
	for (int p = 0; p < nparts; p++)
		for (int i = 0; i < k; i++)
		{
			Candidate	c = {ps[p].d[(size_t) q * k + i], ps[p].rows[(size_t) q * k + i]};

			if (c.row >= 0)
				c.row = c.row * nparts + p;
			all.push_back(c);
		}
	std::partial_sort(all.begin(), all.begin() + k, all.end());
	for (int i = 0; i < k; i++)
	{
		out_d[(size_t) q * k + i] = all[i].d;
		out_i[(size_t) q * k + i] = all[i].row;
	}
}

API int
hs_gpu_search_parts(hs_gpu_matrix *const *parts, int nparts, int metric, const float *queries,
					int nqueries, int k, float *out_distances, int64_t *out_rows,
					float *kernel_ms, char *errbuf, size_t errlen)
{
	SignalsBlocked blocked;
	std::vector<PartSearch> ps;
	std::vector<std::thread> threads;
	int			failed = -1;

	if (nparts < 1 || nparts > HS_GPU_MAX_PARTS || !parts)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: %d parts out of range 1..%d",
					nparts, HS_GPU_MAX_PARTS);
	if (nparts == 1)
		return hs_gpu_search(parts[0], metric, queries, nqueries, k, out_distances, out_rows,
							 kernel_ms, errbuf, errlen);
	if (k < 1 || k > HS_GPU_MAX_K || nqueries < 0)
		return fail(errbuf, errlen, HS_GPU_EINVAL, "hybridsearch cuda: bad k or query count");
	try
	{
		ps.resize(nparts);
		for (int p = 0; p < nparts; p++)
		{
			ps[p].m = parts[p];
			ps[p].d.resize((size_t) nqueries * k);
			ps[p].rows.resize((size_t) nqueries * k);
		}
		auto		search_part = [&](int p)
		{
			PartSearch &s = ps[p];

			s.rc = hs_gpu_search(s.m, metric, queries, nqueries, k, s.d.data(), s.rows.data(),
								 &s.ms, s.msg, sizeof(s.msg));
		};

		/* part 0 on this thread: one thread fewer to start for each search */
		for (int p = 1; p < nparts; p++)
			threads.emplace_back(search_part, p);
		search_part(0);
		for (std::thread &t : threads)
			t.join();
	}
	catch (const std::exception &e)
	{
		for (std::thread &t : threads)
			if (t.joinable())
				t.join();
		return fail(errbuf, errlen, HS_GPU_ENOMEM, "hybridsearch cuda: searching the parts: %s",
					e.what());
	}
	/* a CUDA failure wins: the caller resets the devices after it */
	for (int p = 0; p < nparts; p++)
		if (ps[p].rc != 0 && (failed < 0 || ps[p].rc == HS_GPU_ECUDA))
			failed = p;
	if (failed >= 0)
		return fail(errbuf, errlen, ps[failed].rc, "%s", ps[failed].msg);
	for (int q = 0; q < nqueries; q++)
		merge_parts(ps, q, k, out_distances, out_rows);
	if (kernel_ms)
	{
		*kernel_ms = 0.0f;
		for (int p = 0; p < nparts; p++)
			*kernel_ms = std::max(*kernel_ms, ps[p].ms);
	}
	return 0;
}
