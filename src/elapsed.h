/*
 * elapsed.h
 *	  Milliseconds since an instant: for the timings the extension reports
 *	  and for its bounded waits.
 */
#ifndef HYBRIDSEARCH_ELAPSED_H
#define HYBRIDSEARCH_ELAPSED_H

#include "portability/instr_time.h"

static inline double
ms_since(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_MILLISEC(now);
}

#endif							/* HYBRIDSEARCH_ELAPSED_H */
