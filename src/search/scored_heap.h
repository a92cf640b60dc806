/*
 * scored_heap.h
 *	  Rows with a distance, and a binary min-heap of them: a search's rows
 *	  waiting to be returned (by exact distance), and its rows waiting to be
 *	  scored exactly (by a lower bound of that distance).
 */
#ifndef HYBRIDSEARCH_SCORED_HEAP_H
#define HYBRIDSEARCH_SCORED_HEAP_H

#include <math.h>

typedef struct ScoredRow
{
	double		distance;
	int64		row;
} ScoredRow;

/* Order of float8 values as PostgreSQL sorts them: NaN after everything. */
static inline int
float8_order(double a, double b)
{
	if (isnan(a))
		return isnan(b) ? 0 : 1;
	if (isnan(b))
		return -1;
	return (a > b) - (a < b);
}

/* By distance; equal distances by row, so ties always come back alike. */
static inline int
scored_order(const ScoredRow *a, const ScoredRow *b)
{
	int			order = float8_order(a->distance, b->distance);

	if (order != 0)
		return order;
	return (a->row > b->row) - (a->row < b->row);
}

/* Smallest first by scored_order; grows in the current memory context. */
typedef struct ScoredHeap
{
	ScoredRow  *items;			/* items[0] is the smallest */
	int64		count;
	int64		capacity;
} ScoredHeap;

extern void scored_heap_push(ScoredHeap *heap, ScoredRow item);
extern ScoredRow scored_heap_pop(ScoredHeap *heap);

#endif							/* HYBRIDSEARCH_SCORED_HEAP_H */
