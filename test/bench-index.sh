#!/usr/bin/env bash
# Benchmark of the hybrid index's CPU path against a sequential scan and the
# OpenBLAS sgemv floor, measured in the same run.  Prints markdown tables.
#
#   bash test/bench-index.sh [ROWS] [DIMS] [QUERIES]     (default 100000 768 21)
#
# Installs and builds like the test runner, starts a throw-away cluster
# (shared_buffers large enough to hold table and index) as an unprivileged
# user, loads random vectors, and times cosine top-10 queries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-100000}
dims=${2:-768}
queries=${3:-21}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

"$root/test/install-deps"
make -C "$root" -s >/dev/null && $sudo make -C "$root" -s install >/dev/null
cc -O2 -Wall -Wextra -o /tmp/hybridsearch_bench_blas "$root/test/bench_blas.c" -lopenblas

source "$root/test/lib/bench-cluster.sh"
bench_cluster_start 54330 work_mem=256MB

echo "# hybridsearch CPU benchmark: $rows x $dims, cosine top-10, $queries queries per row"
echo "# $(date -u +%Y-%m-%d) on $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
echo
as_user psql -h "$work" -p 54330 -U postgres -X -q -v rows="$rows" -v dims="$dims" \
    -v queries="$queries" -f "$root/test/bench_index.sql" postgres
echo
/tmp/hybridsearch_bench_blas -n "$rows" -d "$dims" -r 21
