#!/bin/bash
# test/gpu/run-kernels.sh: on the GPU machine, build (if needed), check and
# time the CUDA module.  Logs go to $OUT (or /tmp/hs-gpu-out); a short table
# is printed last.
#
#   test/gpu/run-kernels.sh [GROUPS] [SANITIZE]
#     GROUPS    kernel_check groups for the main run (default AEFGDBC; timing T
#               always runs after them unless GROUPS is "none"; run the
#               lanes' group Y in a process of its own: its searches tune
#               the kind whose untuned launch size T checks)
#     SANITIZE  1 (default) also runs compute-sanitizer memcheck on group S
#               and racecheck/synccheck on group s
#
# Environment: HS_REBUILD=1 forces a rebuild with nvcc there; HS_REPS sets
# the timing repetitions (default 25); HS_BASELINE_LIB=path/to/other.so also
# times an earlier build in the same run (carry it); HS_GRAPHS_OFF=1 (default)
# also times group T with every search call by call (--graphs 0);
# HS_PLANS=tensor (or fused, gemm) runs the checking groups and the
# sanitizers with only those plans (kernel_check --plans), T with all.
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/hs-gpu-out}
mkdir -p "$OUT"
GRP=${1:-AEFGDBC}
SAN=${2:-1}
REPS=${HS_REPS:-25}
export PATH=/usr/local/cuda/bin:$PATH

{
	date -u
	nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw,power.limit --format=csv
	nvcc --version | tail -1
	nproc
} > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

need_build=0
[ -x test/gpu/kernel_check ] && [ -f cuda/libhybridsearch_cuda.so ] || need_build=1
[ "${HS_REBUILD:-0}" = 1 ] && need_build=1
if [ $need_build = 0 ] && ldd cuda/libhybridsearch_cuda.so test/gpu/kernel_check | grep -q 'not found'; then
	need_build=1
fi
if [ $need_build = 1 ]; then
	t0=$(date +%s)
	make -C cuda clean >/dev/null
	make -C cuda -j"$(nproc)" > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
	echo "built on the device in $(( $(date +%s) - t0 )) s"
fi
ldd cuda/libhybridsearch_cuda.so | grep -E 'cublas|not found'

rc=0
set -o pipefail
if [ "$GRP" != none ]; then
	if [ -n "${HS_PLANS:-}" ]; then
		./test/gpu/kernel_check --lib cuda/libhybridsearch_cuda.so --groups "$GRP" --plans "$HS_PLANS" \
			> "$OUT/check.log" 2>&1 &&
			./test/gpu/kernel_check --lib cuda/libhybridsearch_cuda.so --groups T --reps "$REPS" \
			>> "$OUT/check.log" 2>&1
	else
		./test/gpu/kernel_check --lib cuda/libhybridsearch_cuda.so --groups "${GRP}T" --reps "$REPS" \
			> "$OUT/check.log" 2>&1
	fi
	rc=$?
	grep -E '^(FAIL|group|RESULT|  )' "$OUT/check.log" | head -60
fi

if [ "$SAN" = 1 ]; then
	timeout 150 compute-sanitizer --tool memcheck --leak-check no --error-exitcode 9 \
		./test/gpu/kernel_check --lib cuda/libhybridsearch_cuda.so --groups S ${HS_PLANS:+--plans "$HS_PLANS"} > "$OUT/sanitizer.log" 2>&1
	echo "memcheck (group S): exit $?"
	timeout 120 compute-sanitizer --tool racecheck --error-exitcode 9 \
		./test/gpu/kernel_check --lib cuda/libhybridsearch_cuda.so --groups s ${HS_PLANS:+--plans "$HS_PLANS"} >> "$OUT/sanitizer.log" 2>&1
	echo "racecheck (group s): exit $?"
	timeout 90 compute-sanitizer --tool synccheck --error-exitcode 9 \
		./test/gpu/kernel_check --lib cuda/libhybridsearch_cuda.so --groups s ${HS_PLANS:+--plans "$HS_PLANS"} >> "$OUT/sanitizer.log" 2>&1
	echo "synccheck (group s): exit $?"
	grep -E 'ERROR SUMMARY|RESULT|group' "$OUT/sanitizer.log"
fi

# optional: the same timing group with an earlier build, same machine, same run
if [ -n "${HS_BASELINE_LIB:-}" ] && [ -f "$HS_BASELINE_LIB" ]; then
	./test/gpu/kernel_check --lib "$HS_BASELINE_LIB" --groups T --reps "$REPS" > "$OUT/baseline.log" 2>&1
	echo "==== baseline $HS_BASELINE_LIB (exit $?)"
	sed -n '/^---- timing table/,$p' "$OUT/baseline.log" | grep -v RESULT | cut -c1-66
fi

# the same timing with no search replayed as a CUDA graph
if [ "$GRP" != none ] && [ "${HS_GRAPHS_OFF:-1}" = 1 ]; then
	./test/gpu/kernel_check --lib cuda/libhybridsearch_cuda.so --groups T --reps "$REPS" --graphs 0 \
		> "$OUT/graphs-off.log" 2>&1
	echo "==== graphs off (exit $?)"
	sed -n '/^---- timing table/,$p' "$OUT/graphs-off.log" | grep -v RESULT
fi

if [ "$GRP" != none ]; then
	echo "==== $(head -2 "$OUT/device.txt" | tail -1)"
	grep -E '^(floor|RESULT)' "$OUT/check.log"
	sed -n '/^---- timing table/,$p' "$OUT/check.log"
fi
exit $rc
