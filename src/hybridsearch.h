/*
 * hybridsearch.h
 *	  Settings (GUCs) shared by the parts of the extension.
 */
#ifndef HYBRIDSEARCH_H
#define HYBRIDSEARCH_H

extern int	hybridsearch_cpu_threads;
extern bool hybridsearch_cpu_cache;
extern int	hybridsearch_cpu_cache_size_mb;

#endif							/* HYBRIDSEARCH_H */
