#!/usr/bin/env bash
# The GPU path against its floors (issue 19), through SQL, on a server with
# the library preloaded (test/gpu/run-all.sh, part "floor", runs it against
# its server as the same superuser):
#
#   test/gpu/bench-floor.sh ROWS DIMS OUTFILE
#
# For a cosine index of ROWS x DIMS in full and then half precision:
#   - one client: p50 and p90 latency of top-10 queries (pgbench's
#     per-transaction log), and where one request's time goes: medians of
#     the backend's DEBUG1 line over 200 queries (round trip to the worker,
#     the worker's turnaround, its CUDA host call, the kernels by CUDA
#     events, re-scoring in the backend);
#   - CLIENTS (default 64) clients: queries per second, and the mean batch
#     and kernel time per launch from hybridsearch_stats over that run;
#   - hybridsearch_search_batch() over 1000 queries (k 10, median of 3) and
#     the same queries one by one (LATERAL), with how many rows differ.
# Environment: SECONDS_PER_RUN (default 15), CLIENTS, THREADS (pgbench -j,
# default the CPU count), PGLOG (the server log, default /tmp/pg.log).
set -uo pipefail
rows=${1:-1000000}
dims=${2:-768}
outfile=${3:-/dev/stdout}
seconds=${SECONDS_PER_RUN:-15}
clients=${CLIENTS:-64}
threads=${THREADS:-$(nproc)}
pglog=${PGLOG:-/tmp/pg.log}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/bench-floor.XXXXXX)
chmod 777 "$work"
trap 'rm -rf "$work"' EXIT

sql() { psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }
median_of() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", v[int((NR + 1) / 2)]; else print "n/a" }'; }
pct_of() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (NR) printf "%.3f", v[int(NR * p / 100 + 0.999)]; else print "n/a" }'; }

source "$here/../lib/bench-data.sh"
bench_vectors "$rows" "$dims" "$work/vectors.bin" 19 || exit 1
bench_tables_sql floor "$dims" "$work/vectors.bin" 1000 0.9 | psql -X -q -v ON_ERROR_STOP=1 || exit 1
cat >"$work/knn.sql" <<'SQL'
\set q random(1, 1000)
SELECT id FROM floor_items ORDER BY embedding <=> (SELECT embedding FROM floor_queries WHERE q = :q) LIMIT 10;
SQL
one() { echo "SELECT id FROM floor_items ORDER BY embedding <=> (SELECT embedding FROM floor_queries WHERE q = $1) LIMIT 10;"; }

# measure PRECISION: one table row per figure
measure() {
    local precision=$1 lat stats breakdown batch_ms lateral_ms differing tps
    psql -X -q -v ON_ERROR_STOP=1 -c "DROP INDEX IF EXISTS floor_idx" \
        -c "CREATE INDEX floor_idx ON floor_items USING hybrid (embedding vector_cosine_ops) WITH (precision = '$precision')" \
        -c "SELECT hybridsearch_prewarm('floor_idx')" >/dev/null || return 1
    sql "EXPLAIN (COSTS OFF) $(one 1)" | grep -q 'Index Scan using floor_idx' ||
        { echo "| $precision | the query does not use the index | |"; return 1; }
    # warm up every part of the path, then one client
    (cd "$work" && pgbench -n -M prepared -c 1 -T 3 -f "$work/knn.sql" >/dev/null 2>&1)
    rm -f "$work"/pgbench_log.*
    (cd "$work" && pgbench -n -M prepared -c 1 -T "$seconds" -l -f "$work/knn.sql" >"$work/one.log" 2>&1)
    lat=$(cat "$work"/pgbench_log.* | awk '{ print $3 / 1000 }')
    echo "| $precision | 1 client: p50 latency | $(median_of <<<"$lat") ms |"
    echo "| $precision | 1 client: p90 latency | $(pct_of 90 <<<"$lat") ms |"
    # where one request's time goes
    sql "ALTER SYSTEM SET log_min_messages = debug1" >/dev/null; sql "SELECT pg_reload_conf()" >/dev/null
    sleep 1
    local mark; mark=$(wc -l <"$pglog")
    for i in $(seq 1 200); do one $(( i % 1000 + 1 )); done | psql -X -q >/dev/null
    sql "ALTER SYSTEM RESET log_min_messages" >/dev/null; sql "SELECT pg_reload_conf()" >/dev/null
    breakdown=$(tail -n +"$((mark + 1))" "$pglog" | grep -o 'hybridsearch GPU request: .*')
    for field in 'round trip' 'worker' 'CUDA host call' 'kernels' 're-scoring'; do
        echo "| $precision | 1 client, per request: $field (median of $(wc -l <<<"$breakdown")) | $(
            sed -n "s/.*$field \([0-9.]*\) ms.*/\1/p" <<<"$breakdown" | median_of) ms |"
    done
    # many clients; the statistics are cumulative: this run's means from the totals before and after
    sql "DROP TABLE IF EXISTS floor_before; CREATE TABLE floor_before AS SELECT gpu_scans AS s,
        gpu_scans * coalesce(mean_gpu_batch, 0) AS b, gpu_scans * coalesce(mean_gpu_kernel_ms, 0) AS k,
        gpu_fallbacks AS f FROM hybridsearch_stats WHERE index = 'floor_idx'::regclass" >/dev/null
    tps=$(cd "$work" && pgbench -n -M prepared -c "$clients" -j "$(( clients < threads ? clients : threads ))" \
        -T "$seconds" -f "$work/knn.sql" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    stats=$(sql "SELECT round(((h.gpu_scans * h.mean_gpu_batch - b.b) / nullif(h.gpu_scans - b.s, 0))::numeric, 1)
        || ' queries per launch, ' ||
        round(((h.gpu_scans * h.mean_gpu_kernel_ms - b.k) / nullif(h.gpu_scans - b.s, 0))::numeric, 3)
        || ' ms of kernels per launch, ' || h.gpu_fallbacks - b.f || ' fallbacks'
        FROM hybridsearch_stats h, floor_before b WHERE h.index = 'floor_idx'::regclass")
    echo "| $precision | $clients clients | ${tps%.*} q/s ($stats) |"
    # one statement of 1000 queries
    local batch_sql="SELECT count(*) FROM hybridsearch_search_batch('floor_idx', (SELECT array_agg(embedding ORDER BY q) FROM floor_queries), 10) \\g /dev/null"
    batch_ms=$({ echo '\timing on'; for i in 1 2 3 4; do echo "$batch_sql"; done; } | psql -X -At |
        awk '/^Time:/ { print $2 }' | tail -n 3 | median_of)
    lateral_ms=$({ echo '\timing on'; echo "SELECT count(*) FROM floor_queries q, LATERAL (SELECT id FROM floor_items
        ORDER BY embedding <=> q.embedding LIMIT 10) x \\g /dev/null"; } | psql -X -At | awk '/^Time:/ { print $2 }')
    differing=$(sql "WITH b AS (SELECT r.query, r.distance FROM hybridsearch_search_batch('floor_idx',
            (SELECT array_agg(embedding ORDER BY q) FROM floor_queries), 10) r),
        l AS (SELECT q.q AS query, x.distance FROM floor_queries q, LATERAL (SELECT embedding <=> q.embedding AS distance
            FROM floor_items ORDER BY embedding <=> q.embedding LIMIT 10) x)
        SELECT count(*) FROM ((SELECT * FROM b EXCEPT ALL SELECT * FROM l) UNION ALL (SELECT * FROM l EXCEPT ALL SELECT * FROM b)) d")
    echo "| $precision | hybridsearch_search_batch, 1000 queries, k 10 (median of 3) | $batch_ms ms (one by one: $lateral_ms ms; distances differing: $differing) |"
}

{
    echo "| precision | what ($rows x $dims, cosine top-10, $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)) | measured |"
    echo "|---|---|--:|"
    measure full
    measure half
} | tee "$outfile"
psql -X -q -c "DROP TABLE floor_items, floor_queries, floor_before"
