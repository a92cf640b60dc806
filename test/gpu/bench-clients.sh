#!/usr/bin/env bash
# Queries per second under concurrent clients, CPU path against the GPU
# path with one part and with two parts of each index copy per GPU.  Run by
# test/gpu/run-all.sh (part "clients") against its running server, as the
# same superuser; usable on any server with the library preloaded:
#
#   test/gpu/bench-clients.sh ROWS DIMS OUTFILE
#
# Environment: CLIENTS (default "1 64"), SECONDS_PER_RUN (default 20; the
# first 8 seconds warm up: every new connection loads its dense copy), and
# THREADS (pgbench -j, default the CPU count).  Prints a Markdown table:
# tps is the mean of pgbench's 2-second progress reports after the warm-up.
set -uo pipefail
rows=${1:-100000}
dims=${2:-768}
outfile=${3:-/dev/stdout}
clients=${CLIENTS:-1 64}
seconds=${SECONDS_PER_RUN:-20}
warmup=8
threads=${THREADS:-$(nproc)}
work=$(mktemp -d /tmp/bench-clients.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

source "$(dirname "$0")/../lib/bench-data.sh"
bench_vectors "$rows" "$dims" "$work/vectors.bin" 11 || exit 1
{
    bench_tables_sql clients "$dims" "$work/vectors.bin" 1000 0.7
    echo "CREATE INDEX ON clients_items USING hybrid (embedding vector_cosine_ops);"
} | psql -X -q -v ON_ERROR_STOP=1 || exit 1

cat >"$work/knn.sql" <<'SQL'
\set q random(1, 1000)
SELECT id FROM clients_items ORDER BY embedding <=> (SELECT embedding FROM clients_queries WHERE q = :q) LIMIT 10;
SQL

psql -X -At -c "EXPLAIN (COSTS OFF) $(tail -n 1 "$work/knn.sql" | sed 's/:q/1/')" |
    grep -q 'Index Scan using clients_items_embedding_idx' ||
    { echo "the benchmark query does not use the hybrid index" >&2; exit 1; }

# wait_parts PER_DEVICE: until the worker has reopened with that many parts per GPU
wait_parts() {
    psql -X -q -c "ALTER SYSTEM SET hybridsearch.gpu_parts_per_device = $1" -c "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 1 300); do
        [ "$(psql -X -At -c "SELECT ready AND parts_per_index = cardinality(devices) * $1 FROM hybridsearch_gpu_status()")" = t ] && return 0
        sleep 0.1
    done
    echo "the GPU worker did not reopen with $1 parts per GPU" >&2
    return 1
}

# run LABEL DEVICE CLIENTS: one pgbench run; prints a table row
run() {
    local log=$work/pgbench.log tps
    PGOPTIONS="-c hybridsearch.device=$2" pgbench -n -M prepared -c "$3" -j "$(( $3 < threads ? $3 : threads ))" -T "$seconds" -P 2 \
        -f "$work/knn.sql" >"$log" 2>&1
    tps=$(awk -v w="$warmup" '/^progress:/ { t = $2 + 0; if (t > w) { s += $4; n++ } }
        END { if (n) printf "%.0f", s / n; else print "failed" }' "$log")
    if grep -qE 'aborted|ERROR|WARNING' "$log"; then
        tps="failed: $(grep -m 1 -E 'aborted|ERROR|WARNING' "$log")"
    fi
    echo "| $1 | $3 | $tps |"
}

{
    echo "| configuration ($rows x $dims, cosine top-10, full precision) | clients | queries/s |"
    echo "|---|--:|--:|"
    for c in $clients; do run "CPU path, $(nproc) cores" cpu "$c"; done
    if [ "$(psql -X -At -c 'SELECT ready FROM hybridsearch_gpu_status()')" = t ]; then
        gpus=$(psql -X -At -c 'SELECT cardinality(devices) FROM hybridsearch_gpu_status()')
        for parts in 1 2; do
            wait_parts "$parts" || break
            for c in $clients; do run "GPU path, $gpus GPU(s), $parts part(s) per GPU" gpu "$c"; done
        done
        psql -X -q -c "ALTER SYSTEM RESET hybridsearch.gpu_parts_per_device" -c "SELECT pg_reload_conf()" >/dev/null
    fi
} | tee "$outfile"
psql -X -q -c "DROP TABLE clients_items, clients_queries"
