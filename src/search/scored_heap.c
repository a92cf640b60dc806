/*
 * scored_heap.c
 *	  The binary min-heap of scored rows (scored_heap.h).
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "search/scored_heap.h"

void
scored_heap_push(ScoredHeap *heap, ScoredRow item)
{
	int64		i;

	if (heap->count == heap->capacity)
	{
		heap->capacity = Max(256, heap->capacity * 2);
		heap->items = heap->items == NULL ?
			palloc_extended(sizeof(ScoredRow) * heap->capacity, MCXT_ALLOC_HUGE) :
			repalloc_huge(heap->items, sizeof(ScoredRow) * heap->capacity);
	}
	i = heap->count++;
	while (i > 0)
	{
		int64		parent = (i - 1) / 2;

		if (scored_order(&heap->items[parent], &item) <= 0)
			break;
		heap->items[i] = heap->items[parent];
		i = parent;
	}
	heap->items[i] = item;
}

/* The smallest item, taken out; the heap must not be empty. */
ScoredRow
scored_heap_pop(ScoredHeap *heap)
{
	ScoredRow	top = heap->items[0];
	ScoredRow	last = heap->items[--heap->count];
	int64		i = 0;

	for (;;)
	{
		int64		child = 2 * i + 1;

		if (child >= heap->count)
			break;
		if (child + 1 < heap->count &&
			scored_order(&heap->items[child + 1], &heap->items[child]) < 0)
			child++;
		if (scored_order(&last, &heap->items[child]) <= 0)
			break;
		heap->items[i] = heap->items[child];
		i = child;
	}
	if (heap->count > 0)
		heap->items[i] = last;
	return top;
}
