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
#
# NCU_STALLS=KERNEL_REGEX: instead, Nsight Compute's warp-state sampling of
# one launch of that kernel after tuning (PLANS=part limits the plans, as
# kernel_check --plans): the stall reasons per issued instruction, the
# roofline and occupancy sections, and the source page (CUDA lines when
# the module is built with make -C cuda LINEINFO=1) as CSV in $OUT.
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/hs-gpu-out}
mkdir -p "$OUT"
export PATH=/usr/local/cuda/bin:$PATH
reps=${REPS:-200}
tag=half${HS_O_HALF:-1}-metric${HS_O_METRIC:-3}-k${HS_O_K:-32}
nsys=$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
stalls() {
	local rep="$OUT/stalls-$tag-b$batch"

	"$ncu" --kernel-name "regex:$NCU_STALLS" --launch-skip 50 --launch-count 1 \
		--section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy \
		--section WarpStateStats --section SchedulerStats --section SourceCounters \
		--metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio' \
		--import-source yes -f -o "$rep" \
		./test/gpu/kernel_check --groups O --reps "$reps" ${PLANS:+--plans "$PLANS"} > "$rep.log" 2>&1
	grep '^O:' "$rep.log"
	"$ncu" -i "$rep.ncu-rep" --print-details all > "$rep.txt" 2>&1
	"$ncu" -i "$rep.ncu-rep" --page raw --csv \
		--metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio' > "$rep-stalls.csv" 2>&1
	"$ncu" -i "$rep.ncu-rep" --page source --csv --print-source cuda > "$rep-source.csv" 2>&1
	grep -E 'Duration|Memory Throughput|DRAM Throughput|Warp Cycles Per Issued|Issue Slots Busy|No Eligible|Achieved Occupancy|Registers Per|Block Limit' "$rep.txt"
}

for batch in ${*:-1 32}; do
	export HS_O_BATCH=$batch
	echo "==== batch $batch"
	if [ -n "${NCU_STALLS:-}" ]; then
		[ -n "$ncu" ] || { echo "no ncu on this machine"; exit 1; }
		stalls
	elif [ -n "$nsys" ]; then
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
