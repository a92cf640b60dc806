/*
 * gpu_answers.h
 *	  The GPU worker's answers to requests: published, or held back while
 *	  the next round's launch starts (gpu_answers.c).
 */
#ifndef HYBRIDSEARCH_GPU_ANSWERS_H
#define HYBRIDSEARCH_GPU_ANSWERS_H

#include "portability/instr_time.h"

#include "gpu/gpu_shared.h"

extern void answers_hold(const GpuSlot *requests, int count, instr_time taken);
extern void answers_publish(void);
extern void answers_publish_now(const GpuSlot *requests, int count, instr_time taken);
extern bool answers_held(void);

#endif							/* HYBRIDSEARCH_GPU_ANSWERS_H */
