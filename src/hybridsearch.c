/*
 * hybridsearch.c
 *	  Module entry point: module magic and one-time initialisation.
 */
#include "postgres.h"

#include "fmgr.h"

#include "distance.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	distance_init();
}
