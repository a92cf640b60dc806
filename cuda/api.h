/*
 * api.h
 *	  How the C API's definitions are marked for export.
 *
 * The module is built with -fvisibility=hidden, so only functions marked
 * API leave the shared object: those of hs_gpu.h.
 */
#ifndef HS_API_H
#define HS_API_H

#include "hs_gpu.h"

#define API extern "C" __attribute__((visibility("default")))

#endif							/* HS_API_H */
