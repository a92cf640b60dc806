/*
 * search_parts.cu
 *	  hs_gpu_search_parts: one search over a matrix striped in parts.
 *
 * Row r of the whole is row r / nparts of parts[r % nparts].  Each part is
 * searched with hs_gpu_search on a host thread of its own, part 0 on the
 * caller's (parts on different devices run at once; parts on one device
 * take turns on its mutex), then the parts' lists are merged on the host
 * (parts.h).
 */
#include <stdint.h>
#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

#include "api.h"
#include "parts.h"
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
	{
		std::vector<const float *> d(nparts);
		std::vector<const int64_t *> rows(nparts);

		for (int p = 0; p < nparts; p++)
		{
			d[p] = ps[p].d.data();
			rows[p] = ps[p].rows.data();
		}
		for (int q = 0; q < nqueries; q++)
			merge_part_lists(d.data(), rows.data(), nparts, q, k, out_distances, out_rows);
	}
	if (kernel_ms)
	{
		*kernel_ms = 0.0f;
		for (int p = 0; p < nparts; p++)
			*kernel_ms = std::max(*kernel_ms, ps[p].ms);
	}
	return 0;
}
