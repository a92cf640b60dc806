/*
 * parts.h
 *	  A matrix striped in parts (hs_gpu_search_parts, hs_gpu_search_start):
 *	  the parts' answers to one query merged into the whole's.
 */
#ifndef HS_PARTS_H
#define HS_PARTS_H

#include <stdint.h>

/*
 * Query q's k answers over the whole, from part p's answers d[p], rows[p]
 * (each nq x k, in hs_gpu_search's order): row r of part p is row
 * r * nparts + p of the whole.  The order is hs_gpu_search's.
 */
void		merge_part_lists(const float *const *d, const int64_t *const *rows, int nparts, int q,
							 int k, float *out_d, int64_t *out_i);

#endif							/* HS_PARTS_H */
