/*
 * distance_arg.h
 *	  A distance function's argument, detoasted once per query where it is
 *	  the same out-of-line value on every call.
 */
#ifndef HYBRIDSEARCH_DISTANCE_ARG_H
#define HYBRIDSEARCH_DISTANCE_ARG_H

#include "fmgr.h"

extern struct varlena *distance_arg(FunctionCallInfo fcinfo, int argno);

#endif							/* HYBRIDSEARCH_DISTANCE_ARG_H */
