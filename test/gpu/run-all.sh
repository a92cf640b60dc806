#!/usr/bin/env bash
# The GPU test runner, run on the GPU machine (the device tool).  Prepare
# here, after `make`:
#
#   ../shared/device/pg-bundle          # PostgreSQL + the extension + CUDA module -> .device/
#
# then run on the device, carrying .device:
#
#   bash test/gpu/run-all.sh [PARTS] [ROWS] [DIMS]
#
# PARTS is a comma-separated list of kernels, suites, split, bench, clients,
# sharedcopy, floor, floor-huge, crossover, faults and stress (default
# suites,bench,crossover);
# ROWS x DIMS the benchmark's size (default 1000000 x 768; clients uses
# ROWS / 10).  "faults" runs TAP 050 and 055 alone.
# "sharedcopy" runs test/bench-shared-copy.sh at ROWS x DIMS: cold and
# prewarmed first queries, new connections, 64 clients' memory.  "floor"
# runs test/gpu/bench-floor.sh at ROWS x DIMS: one client's latency and
# where a request's time goes, 64 clients, a 1000-query batch statement.
# "floor-huge" runs it again with the server restarted on huge pages
# (huge_pages = on, vm.nr_hugepages set to what the server asks for).
#
# It starts the bundled PostgreSQL with the library preloaded, runs every
# pg_regress and TAP test with hybridsearch.device = gpu (the CPU suites'
# expected outputs, unchanged), then the index benchmark with GPU rows.
# "split" runs the suites again with every index copy split in 3 parts per
# GPU (hybridsearch.gpu_parts_per_device), the multi-GPU path, on however
# many GPUs there are.  "kernels" runs kernel_check's argument, split and
# timing groups (E, P, M) on the CUDA module alone.  "stress" runs
# test/gpu/stress.sh (STRESS_SECONDS, default 300; it restarts the server
# with core files on, and prints one summary line).
# Logs and tables go to $OUT (or /tmp/gpu-out).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
parts=${1:-suites,bench,crossover}
rows=${2:-1000000}
dims=${3:-768}
want() { [[ ",$parts," == *",$1,"* ]]; }
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"

conf=/tmp/hybridsearch-gpu.conf
cat >"$conf" <<CONF
shared_preload_libraries = 'hybridsearch'
hybridsearch.device = 'gpu'
hybridsearch.gpu_min_rows = 0
CONF
# The bundle leaves the CUDA module out (it would drag cuBLAS in; the device
# has CUDA): unpack it first and add the module built here, carried along.
mkdir -p /tmp/pgroot
[ -x /tmp/pgroot/usr/lib/postgresql/15/bin/postgres ] || tar -C /tmp/pgroot -xJf .device/pg15.tar.xz
cp cuda/libhybridsearch_cuda.so /tmp/pgroot/usr/lib/postgresql/15/lib/
export PGUP_CONF="shared_preload_libraries='hybridsearch'"
source <(.device/pg-up) || { echo "pg-up failed"; exit 1; }
psql -X -q -c "ALTER SYSTEM SET max_parallel_workers_per_gather = 8" -c "SELECT pg_reload_conf()" >/dev/null
sleep 2
psql -X -c "CREATE EXTENSION IF NOT EXISTS hybridsearch" -c "SELECT * FROM hybridsearch_gpu_status()" \
    | tee "$out/gpu-status.txt"

if want kernels; then
echo "== kernel_check groups E, P, M"
make -s -C cuda ../test/gpu/kernel_check >/dev/null &&
    ./test/gpu/kernel_check --lib cuda/libhybridsearch_cuda.so --groups EPM --reps 25 \
        >"$out/kernels.log" 2>&1
grep -E '^(group|RESULT|M:|parts| +[0-9]+ +[0-9]+ +fp|FAIL)' "$out/kernels.log" | head -40
fi

run_suites() {	# run_suites NAME CONF
    echo "== every suite with hybridsearch.device = gpu ($1)"
    chown -R pg "$root"
    runuser -u pg -- env PATH="$PATH" LD_LIBRARY_PATH="$LD_LIBRARY_PATH" PERL5LIB="$PERL5LIB" \
        PG_REGRESS="$PG_REGRESS" TEMP_CONFIG="$2" HYBRIDSEARCH_SKIP="clients fuzz sanitized" \
        HYBRIDSEARCH_SOAK_SECONDS="${HYBRIDSEARCH_SOAK_SECONDS:-120}" test/run-suites >"$out/$1.log" 2>&1
    tail -n 25 "$out/$1.log"
    [ -f test/log/regression.diffs ] && cp test/log/regression.diffs "$out/$1-regression.diffs"
    grep -h -E 'WARNING|FATAL|PANIC' test/log/tap-servers/*.log 2>/dev/null | sort | uniq -c | sort -rn | head -20 \
        >"$out/$1-server-warnings.txt"
}
want suites && run_suites suites "$conf"
if want split; then
    split_conf=/tmp/hybridsearch-gpu-split.conf
    { cat "$conf"; echo "hybridsearch.gpu_parts_per_device = 3"; } >"$split_conf"
    run_suites suites-split "$split_conf"
fi

if want bench; then
echo "== benchmark: $rows x $dims"
data=/tmp/bench_vectors.bin
python3 test/gen_vectors.py "$rows" "$dims" "$data" && chmod 644 "$data"
psql -X -q -v rows="$rows" -v dims="$dims" -v queries=21 -v datafile="$data" \
    -f test/bench_index.sql 2>&1 | tee "$out/bench.md"
grep -E 'ERROR|WARNING' /tmp/pg.log | sort | uniq -c | head -20 >"$out/bench-server-warnings.txt"
cp /tmp/pg.log "$out/server.log" 2>/dev/null
fi

if want clients; then
echo "== queries per second by clients: $((rows / 10)) x $dims"
bash test/gpu/bench-clients.sh "$((rows / 10))" "$dims" "$out/clients.md"
fi

if want faults; then
echo "== TAP 050 and 055 (GPU fallbacks, CUDA host faults) with hybridsearch.device = gpu"
chown -R pg "$root"
runuser -u pg -- env PATH="$PATH" LD_LIBRARY_PATH="$LD_LIBRARY_PATH" PERL5LIB="$PERL5LIB" \
    PG_REGRESS="$PG_REGRESS" TEMP_CONFIG="$conf" TESTDIR="$root" \
    prove test/t/050_gpu_fallback.pl test/t/055_cuda_host_faults.pl >"$out/faults.log" 2>&1
grep -E '^(test/t|Files=|Result:|not ok)' "$out/faults.log"
fi

if want sharedcopy; then
echo "== shared copy: $rows x $dims"
PGDATA=/tmp/pgdata PGLOG=/tmp/pg.log PG_AS=pg bash test/bench-shared-copy.sh "$rows" "$dims" 2>&1 |
    tee "$out/sharedcopy.md"
fi

if want floor; then
echo "== GPU floor: $rows x $dims"
PGLOG=/tmp/pg.log bash test/gpu/bench-floor.sh "$rows" "$dims" "$out/floor.md" 2>&1
fi

if want floor-huge; then
echo "== GPU floor on huge pages: $rows x $dims"
pages=$(psql -X -At -c "SHOW shared_memory_size_in_huge_pages")
if echo $(( pages + 16 )) >/proc/sys/vm/nr_hugepages &&
    [ "$(awk '/HugePages_Total/ { print $2 }' /proc/meminfo)" -ge "$pages" ] &&
    psql -X -q -c "ALTER SYSTEM SET huge_pages = on" &&
    runuser -u pg -- env LD_LIBRARY_PATH="$LD_LIBRARY_PATH" pg_ctl -D /tmp/pgdata -l /tmp/pg.log -w restart >/dev/null; then
    grep HugePages_ /proc/meminfo
    PGLOG=/tmp/pg.log bash test/gpu/bench-floor.sh "$rows" "$dims" "$out/floor-huge.md" 2>&1
    psql -X -q -c "ALTER SYSTEM RESET huge_pages"
    runuser -u pg -- env LD_LIBRARY_PATH="$LD_LIBRARY_PATH" pg_ctl -D /tmp/pgdata -l /tmp/pg.log -w restart >/dev/null
else
    echo "huge pages could not be set up (vm.nr_hugepages $pages + 16)" | tee "$out/floor-huge.md"
fi
fi

if want stress; then
echo "== stress: searches, part changes, evictions, COPY, parallel scans, VACUUM, cancels"
bash test/gpu/stress.sh "${STRESS_SECONDS:-300}" 100000 256
fi

if want crossover; then
echo "== crossover: CPU against GPU by table size ($dims dimensions)"
cross=/tmp/crossover_vectors.bin
python3 test/gen_vectors.py 300000 "$dims" "$cross" 7 && chmod 644 "$cross"
psql -X -q -v dims="$dims" -v queries=21 -v datafile="$cross" \
    -f test/bench_crossover.sql 2>&1 | tee "$out/crossover.md"
fi
