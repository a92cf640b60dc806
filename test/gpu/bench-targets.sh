#!/usr/bin/env bash
# Every figure issue 19 sets a target for, in one run (test/gpu/run-all.sh,
# part "targets", runs it against its server on huge pages, with
# hybridsearch.shared_cache_size set for the large copy):
#
#   test/gpu/bench-targets.sh DIMS OUTDIR
#
# In order, each into its own file in OUTDIR, then a summary, targets.md:
#   1. the kernels alone (kernel_check group T, 1M x DIMS): one query's
#      kernel time against the plain read of the same bytes (kernels.log);
#   2. SMALL_ROWS (1M) x DIMS through SQL, full and half precision, as
#      test/gpu/bench-floor.sh measures them (floor.md);
#   3. LARGE_ROWS (10M) x DIMS vector through SQL, an index in full and then
#      half precision, as test/gpu/bench-large.sh measures them, the heap in
#      a tmpfs tablespace; on two GPUs or more also with one
#      (DEVICE_SETS "all 0"): the ratios (large.md).
# 20M rows on two GPUs take a call of their own (`run-all.sh large
# 20000000` on a two-GPU machine): the build and upload alone take about
# 4 minutes.
# Environment: SECONDS_PER_RUN (default 5), SMALL_ROWS, LARGE_ROWS, PGLOG,
# and bench-large.sh's.
set -uo pipefail
dims=${1:-768}
outdir=${2:-/tmp/gpu-out}
small_rows=${SMALL_ROWS:-1000000}
clients=${CLIENTS:-64}
export EXACT_QUERIES=${EXACT_QUERIES:-1}
large_rows=${LARGE_ROWS:-10000000}
here=$(cd "$(dirname "$0")" && pwd)
export SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
gpus=$(nvidia-smi -L | grep -c '^GPU')
device_sets="all"
[ "$gpus" -ge 2 ] && device_sets="all 0"
started=$(date +%s)

echo "-- 1. the kernels alone"
"$here/kernel_check" --lib "$here/../../cuda/libhybridsearch_cuda.so" --groups T --reps 25 >"$outdir/kernels.log" 2>&1
grep -E '^(floor|fp32 cosine +10 +1 |fp16 cosine +10 +1 |fp16 l2 +10 +1 |RESULT)' "$outdir/kernels.log"

echo "-- 2. $small_rows x $dims through SQL"
bash "$here/bench-floor.sh" "$small_rows" "$dims" "$outdir/floor.md" >/dev/null 2>&1
cat "$outdir/floor.md"

echo "-- 3. $large_rows x $dims through SQL, GPUs: $device_sets"
LARGE_TYPE=vector LARGE_PRECISIONS="full half" LARGE_TABLESPACE=${LARGE_TABLESPACE:-/dev/shm/hs-large} \
    BASE_SECONDS=${BASE_SECONDS:-3} DEVICE_SETS=$device_sets \
    bash "$here/bench-large.sh" "$large_rows" "$dims" "$outdir/large.md" >/dev/null 2>&1
cat "$outdir/large.md"

# cell FILE LABEL WHAT: what was measured on the row LABEL | WHAT
cell() {
    awk -F' [|] ' -v label="| $2" -v what="$3" '$1 == label && index($2, what) == 1 {
        sub(/ [|]$/, "", $3); print $3; exit }' "$outdir/$1"
}
# figure FILE LABEL WHAT: the first number of that
figure() { cell "$@" | awk '{ print $1 }'; }
# target NAME MEASURED OP LIMIT UNIT: a summary row, met when MEASURED OP LIMIT
target() {
    local verdict=missed
    if [ -z "$2" ] || [ "$2" = n/a ]; then verdict="not measured"
    elif awk -v m="$2" -v l="$4" -v op="$3" 'BEGIN { exit !(op == "<=" ? m <= l : m >= l) }'; then verdict=met
    fi
    echo "| $1 | $3 $4${5:+ $5} | ${2:-}${5:+ $5} | $verdict |"
}
# ratio A B: A / B to 2 places
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b }'; }
kernel_ratio() {	# kernel_ratio PRECISION METRIC: floor/t of one query, k 10
    awk -v p="$1" -v m="$2" '$1 == p && $2 == m && $3 == 10 && $4 == 1 { print $9; exit }' "$outdir/kernels.log"
}
# the issue's targets by precision
declare -A small_p50_ms=([full]=0.9 [half]=0.5) small_clients_qps=([full]=30000 [half]=60000) \
    large_p50_ms=([full]=8 [half]=5)
one_gpu="GPUs 0"
two_gpus=$(nvidia-smi -L | awk '/^GPU/ { printf "%s%d", n++ ? "," : "", n - 1 }')
{
    echo "| figure ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1) x $gpus, huge pages) | target | measured | |"
    echo "|---|--:|--:|---|"
    target "kernels alone, one query, fp32 cosine: read floor / kernel time" "$(kernel_ratio fp32 cosine)" ">=" 0.85 ""
    target "kernels alone, one query, fp16 cosine: read floor / kernel time" "$(kernel_ratio fp16 cosine)" ">=" 0.85 ""
    target "kernels alone, one query, fp16 l2: read floor / kernel time" "$(kernel_ratio fp16 l2)" ">=" 0.85 ""
    for p in full half; do
        target "$small_rows x $dims $p, 1 client p50" "$(figure floor.md "$p" "1 client: p50")" "<=" \
            "${small_p50_ms[$p]}" ms
        target "$small_rows x $dims $p, $clients clients" "$(figure floor.md "$p" "$clients clients")" ">=" \
            "${small_clients_qps[$p]}" q/s
        target "$large_rows x $dims $p, 1 client p50, $one_gpu" "$(figure large.md "large index ($p), $one_gpu" "1 client: p50")" "<=" \
            "${large_p50_ms[$p]}" ms
        target "$large_rows x $dims $p: top-10 distances differing from a sequential scan" "$(
            figure large.md "large index" "$EXACT_QUERIES queries: index ($p)")" "<=" 0 ""
    done
    echo "| $small_rows x $dims, $clients clients, the same query over 100 rows on the CPU path (no GPU search): the CPUs' ceiling | | $(
        cell floor.md none "$clients clients, the same query") | |"
    target "$large_rows x $dims: the other index's GPU fallbacks while the large copies load" "$(
        awk -F' [|] ' '$2 == "GPU fallbacks during the load" { s += $3 } END { print s + 0 }' "$outdir/large.md")" "<=" 0 ""
    if [ "$gpus" -ge 2 ]; then
        for p in full half; do
            target "$large_rows x $dims $p, 1 client p50: GPUs $two_gpus / one GPU" "$(ratio \
                "$(figure large.md "large index ($p), GPUs $two_gpus" "1 client: p50")" \
                "$(figure large.md "large index ($p), $one_gpu" "1 client: p50")")" "<=" 0.6 ""
            target "$large_rows x $dims $p, $clients clients: GPUs $two_gpus / one GPU" "$(ratio \
                "$(figure large.md "large index ($p), GPUs $two_gpus" "$clients clients")" \
                "$(figure large.md "large index ($p), $one_gpu" "$clients clients")")" ">=" 1.7 ""
        done
    else
        echo "| two GPUs: $large_rows rows' p50 and $clients-client ratios, 20M rows | | | not measured (one GPU) |"
    fi
    echo
    echo "($(( $(date +%s) - started )) s)"
} | tee "$outdir/targets.md"
