/*
 * parts.cu
 *	  Merging the parts' answers of a striped matrix (parts.h).
 */
#include <algorithm>
#include <vector>

#include "parts.h"

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

void
merge_part_lists(const float *const *d, const int64_t *const *rows, int nparts, int q, int k,
				 float *out_d, int64_t *out_i)
{
	std::vector<Candidate> all;

	all.reserve((size_t) nparts * k);
	for (int p = 0; p < nparts; p++)
		for (int i = 0; i < k; i++)
		{
			Candidate	c = {d[p][(size_t) q * k + i], rows[p][(size_t) q * k + i]};

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
