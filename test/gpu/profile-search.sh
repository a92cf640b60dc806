#!/bin/bash
# test/gpu/profile-search.sh: on the GPU machine, the time of each kernel of
# one kind of search (kernel_check group O, 1M x 768), by Nsight Systems
# when the toolkit has it, else by Nsight Compute (which runs kernels one at
# a time, so autotuning under it may choose another plan than it would alone).
#
#   test/gpu/profile-search.sh [BATCH...]     (default: 1 32)
#
# Environment: HS_O_HALF, HS_O_METRIC, HS_O_K (kernel_check's group O),
# REPS (searches per batch, default 200).  Reports go to $OUT.
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/hs-gpu-out}
mkdir -p "$OUT"
export PATH=/usr/local/cuda/bin:$PATH
reps=${REPS:-200}
tag=half${HS_O_HALF:-1}-metric${HS_O_METRIC:-3}-k${HS_O_K:-32}
nsys=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
for batch in ${*:-1 32}; do
	export HS_O_BATCH=$batch
	echo "==== batch $batch"
	if [ -n "$nsys" ]; then
		"$nsys" profile --force-overwrite true -o "$OUT/search-$tag-b$batch" \
			./test/gpu/kernel_check --groups O --reps "$reps" > "$OUT/nsys-$tag-b$batch.log" 2>&1
		grep '^O:' "$OUT/nsys-$tag-b$batch.log"
		"$nsys" stats --force-export true --report cuda_gpu_kern_sum,cuda_gpu_mem_time_sum \
			"$OUT/search-$tag-b$batch.nsys-rep" 2>/dev/null | cut -c1-220
	elif [ -n "$ncu" ]; then
		# 40 launches after tuning, with warm caches and clocks as they run
		"$ncu" --launch-skip $(( reps * 6 )) --launch-count 40 --cache-control none \
			--clock-control none --metrics gpu__time_duration.sum \
			./test/gpu/kernel_check --groups O --reps "$reps" > "$OUT/ncu-$tag-b$batch.log" 2>&1
		grep '^O:' "$OUT/ncu-$tag-b$batch.log"
		# kernel, grid, microseconds
		grep -E '^  [a-zA-Z_]|gpu__time_duration' "$OUT/ncu-$tag-b$batch.log" |
			sed -E 's/\(const [^)]*\)//; s/, Context.*//' | paste - - | awk '{ print $1, $2, $3, $NF }' | head -45
	else
		echo "neither nsys nor ncu on this machine"
		exit 1
	fi
done
