/*
 * gpu_resident.h
 *	  The GPU worker's table of index copies resident in GPU memory: each a
 *	  set of stripes (matrices in the CUDA host), created, extended, evicted
 *	  least recently used first, and published for hybridsearch_stats.
 *
 * Every index copy is split in stripes over the open devices: row r lives
 * in part r % nparts, on device devices[r % nparts].  Stripes keep the
 * parts within one row of each other whatever the appends, so every GPU
 * holds an equal share and the row numbering stays the backends' own.
 */
#ifndef HYBRIDSEARCH_GPU_RESIDENT_H
#define HYBRIDSEARCH_GPU_RESIDENT_H

#include "gpu/cuda_host.h"
#include "gpu/gpu_shared.h"

typedef struct ResidentMatrix
{
	GpuMatrixKey key;			/* hash key */
	uint32		epoch;
	int			nparts;			/* row r is in parts[r % nparts] */
	HostMatrix	parts[GPU_MAX_PARTS];
	int64		part_rows[GPU_MAX_PARTS];
	Size		part_bytes[GPU_MAX_PARTS];	/* device bytes each part holds */
	int64		reserved_rows;	/* the parts have room for this many rows in all */
	uint64		last_used;
	float		kernel_ms;		/* its last launch's kernels: when one in flight ends */
} ResidentMatrix;

extern void gpu_resident_init(void);
extern ResidentMatrix *gpu_resident_find(const GpuMatrixKey *key, uint32 epoch);
extern ResidentMatrix *gpu_resident_create(const GpuMatrixKey *key, uint32 epoch, int nparts,
										   const int *devices, int device_count, char *message);
extern int64 gpu_resident_rows(const ResidentMatrix *entry);
extern int	gpu_resident_append(ResidentMatrix *entry, const float *rows, int64 first,
								int64 count, char *message);
extern int	gpu_resident_reserve(ResidentMatrix *entry, int64 total_rows, char *message);
extern bool gpu_resident_make_room(ResidentMatrix *keep, Size needed, Size limit);
extern void gpu_resident_drop(ResidentMatrix *entry);
extern void gpu_resident_forget_all(void);
extern void gpu_resident_publish(void);

#endif							/* HYBRIDSEARCH_GPU_RESIDENT_H */
