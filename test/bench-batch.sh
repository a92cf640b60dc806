#!/usr/bin/env bash
# Batched search's figures (issue 15) against the same runs without
# batching, and the OpenBLAS floors, measured in the same run.  Prints
# Markdown tables.
#
#   bash test/bench-batch.sh [ROWS] [DIMS] [SECONDS]    (default 100000 768 20)
#
# Installs and builds like the test runner, starts a throw-away cluster with
# the preload as an unprivileged user, loads random vectors (cosine, top-10,
# hybridsearch.device = cpu) and measures:
#   - a sequential scan and a warm index scan of one query (medians);
#   - pgbench: 1 client, then CLIENTS (default 8) with hybridsearch.cpu_batching
#     on and off: queries per second, and the mean batch of the shared passes;
#   - hybridsearch_search_batch() over 1000 queries against the same 1000
#     queries one by one (a LATERAL join), and whether every answer is equal;
#   - OpenBLAS sgemv (one query) and sgemm (8 and 1000 queries) over the
#     same matrix size (test/bench_blas.c).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-100000}
dims=${2:-768}
seconds=${3:-20}
clients=${CLIENTS:-8}
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

"$root/test/install-deps" >/dev/null
make -C "$root" -s >/dev/null && $sudo make -C "$root" -s install >/dev/null
cc -O2 -Wall -Wextra -o /tmp/hybridsearch_bench_blas "$root/test/bench_blas.c" -lopenblas

source "$root/test/lib/bench-cluster.sh"
bench_cluster_start 54331 shared_preload_libraries=hybridsearch max_connections=100
export PGHOST=$work PGPORT=54331 PGUSER=postgres PGDATABASE=postgres
export PGOPTIONS="-c hybridsearch.device=cpu"
sql() { as_user psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "n/a" }'; }
timed() {	# ms of each statement read from stdin (lines ending in \g /dev/null), one per line
    { echo '\timing on'; cat; } | as_user psql -X -At -v ON_ERROR_STOP=1 | awk '/^Time:/ { print $2 }'
}
qps() {	# qps CLIENTS [SET ...]: pgbench queries per second
    PGOPTIONS="$PGOPTIONS ${2:-}" as_user "$bindir/pgbench" -n -f "$work/query.sql" -c "$1" -j "$1" \
        -T "$seconds" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}

source "$root/test/lib/bench-data.sh"
bench_vectors "$rows" "$dims" "$work/vectors.bin" 17
{
    bench_tables_sql bb "$dims" "$work/vectors.bin" 1000 0.7
    echo "CREATE INDEX bb_items_cos ON bb_items USING hybrid (embedding vector_cosine_ops);"
    echo "SELECT hybridsearch_prewarm('bb_items_cos') \\g /dev/null"
} | as_user psql -X -q -v ON_ERROR_STOP=1
cat >"$work/query.sql" <<'SQL'
\set q random(1, 1000)
SELECT id FROM bb_items ORDER BY embedding <=> (SELECT embedding FROM bb_queries WHERE q = :q) LIMIT 10;
SQL
chmod 644 "$work/query.sql"
one() { echo "SELECT id FROM bb_items ORDER BY embedding <=> (SELECT embedding FROM bb_queries WHERE q = $1) LIMIT 10 \g /dev/null"; }

echo "# hybridsearch batched search: $rows x $dims, cosine top-10, CPU path"
echo "# $(date -u +%Y-%m-%d) on $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
echo
seq_ms=$({ echo "SET enable_indexscan = off;"; for i in 1 2 3 4 5; do one "$i"; done; } | timed | tail -n +2 | median)
idx_ms=$(for i in $(seq 1 21); do one "$i"; done | timed | median)
qps1=$(qps 1)
stats0=$(sql "SELECT batched_passes, batched_queries FROM hybridsearch_batch_stats()")
qpsn=$(qps "$clients")
stats1=$(sql "SELECT batched_passes, batched_queries FROM hybridsearch_batch_stats()")
qpsoff=$(qps "$clients" "-c hybridsearch.cpu_batching=off")
passes=$(( ${stats1%|*} - ${stats0%|*} ))
mean_batch=$(awk -v p="$passes" -v q="$(( ${stats1#*|} - ${stats0#*|} ))" 'BEGIN { printf "%.1f", (p > 0 ? q / p : 0) }')

batch_sql="SELECT count(*) FROM hybridsearch_search_batch('bb_items_cos', (SELECT array_agg(embedding ORDER BY q) FROM bb_queries), 10)"
lateral_sql="SELECT count(*) FROM bb_queries q, LATERAL (SELECT id FROM bb_items ORDER BY embedding <=> q.embedding LIMIT 10) x"
batch_ms=$(for i in 1 2 3; do echo "$batch_sql \g /dev/null"; done | timed | median)
lateral_ms=$(echo "$lateral_sql \g /dev/null" | timed)
differing=$(sql "WITH b AS (SELECT r.query, i.id, r.distance FROM hybridsearch_search_batch('bb_items_cos',
        (SELECT array_agg(embedding ORDER BY q) FROM bb_queries), 10) r JOIN bb_items i ON i.ctid = r.tid),
    l AS (SELECT q.q AS query, x.id, x.distance FROM bb_queries q, LATERAL (SELECT id, embedding <=> q.embedding AS distance
        FROM bb_items ORDER BY embedding <=> q.embedding LIMIT 10) x)
    SELECT count(*) FROM ((SELECT * FROM b EXCEPT ALL SELECT * FROM l) UNION ALL (SELECT * FROM l EXCEPT ALL SELECT * FROM b)) d")

echo "| what | measured | against |"
echo "|---|--:|---|"
echo "| sequential scan, one query (median of 5) | $seq_ms ms | |"
echo "| index scan, one query, warm (median of 21) | $idx_ms ms | $(awk -v a="$seq_ms" -v b="$idx_ms" 'BEGIN { printf "%.1fx faster than the sequential scan", a / b }') |"
echo "| pgbench, 1 client | $qps1 q/s | |"
echo "| pgbench, $clients clients, cpu_batching on | $qpsn q/s | $(awk -v a="$qpsn" -v b="$qps1" 'BEGIN { printf "%.2fx one client", a / b }'); mean shared pass $mean_batch queries |"
echo "| pgbench, $clients clients, cpu_batching off | $qpsoff q/s | $(awk -v a="$qpsoff" -v b="$qps1" 'BEGIN { printf "%.2fx one client", a / b }') |"
echo "| hybridsearch_search_batch, 1000 queries (median of 3) | $batch_ms ms | $(awk -v a="$lateral_ms" -v b="$batch_ms" 'BEGIN { printf "%.1fx faster than one by one", a / b }') |"
echo "| the same 1000 queries one by one (LATERAL) | $lateral_ms ms | |"
echo "| rows where the batch and the single queries differ | $differing | must be 0 |"
echo
/tmp/hybridsearch_bench_blas -n "$rows" -d "$dims" -r 5 -q 8,1000
