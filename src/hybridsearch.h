/*
 * hybridsearch.h
 *	  Settings (GUCs) shared by the parts of the extension.
 */
#ifndef HYBRIDSEARCH_H
#define HYBRIDSEARCH_H

/* hybridsearch.device */
typedef enum HybridDevice
{
	DEVICE_AUTO,
	DEVICE_CPU,
	DEVICE_GPU
} HybridDevice;

extern int	hybridsearch_cpu_threads;
extern bool hybridsearch_cpu_cache;
extern int	hybridsearch_cpu_cache_size_mb;
extern int	hybridsearch_shared_cache_size_mb;
extern char *hybridsearch_prewarm_list;
extern int	hybridsearch_device;
extern int	hybridsearch_gpu_min_rows;
extern int	hybridsearch_gpu_memory_limit_mb;
extern char *hybridsearch_gpu_devices;
extern int	hybridsearch_gpu_parts_per_device;
extern int	hybridsearch_gpu_launches_in_flight;
extern int	hybridsearch_gpu_timeout_ms;
extern int	hybridsearch_gpu_fault;
extern int	hybridsearch_vacuum_fault;
extern bool hybridsearch_reuse_scan_distances;

#endif							/* HYBRIDSEARCH_H */
