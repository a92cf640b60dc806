#!/usr/bin/env bash
# The GPU path against its floors (issue 19), through SQL, on a server with
# the library preloaded (test/gpu/run-all.sh, part "floor", runs it against
# its server as the same superuser):
#
#   test/gpu/bench-floor.sh ROWS DIMS OUTFILE
#
# First, as baselines, one client's mean latency of SELECT 1 and of the
# query vector's row alone (the client's round trip, the subquery), and
# CLIENTS clients' queries per second with the top-10 query over a hybrid
# index of 100 rows on the CPU path: the ceiling the CPUs set on the
# clients' throughput without a GPU search (ceiling_row).
# Then for a cosine index of ROWS x DIMS in full and then half precision:
#   - one client: p50 and p90 latency of top-10 queries (pgbench's
#     per-transaction log), and where one request's time goes: medians of
#     the backend's DEBUG1 line over 200 queries (round trip to the worker,
#     the worker's turnaround, its CUDA host call, the kernels by CUDA
#     events, taking the answer in the backend, the scan's time with the
#     exact scoring of the rows it returns), and the executor's share
#     (EXPLAIN ANALYZE's execution time, median of 50), and a query that
#     keeps the executor as long without a search, as a baseline for the
#     share outside the executor (busy_rows);
#   - CLIENTS (default 64) clients: queries per second, and the mean batch
#     and kernel time per launch from hybridsearch_stats; then the same
#     with hybridsearch.gpu_launches_in_flight = 1 (labelled "PRECISION,
#     one launch at a time"), the worker waiting for each launch before
#     it starts the next;
#   - the same three (p50/p90, the executor, CLIENTS clients) with
#     hybridsearch.reuse_scan_distances = off, labelled "PRECISION,
#     recomputed": the executor computing each returned row's distance
#     again, as it did before 0.4.0;
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
pglog=${PGLOG:-/tmp/pg.log}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/bench-floor.XXXXXX)
chmod 777 "$work"
trap 'rm -rf "$work"' EXIT

source "$here/../lib/bench-data.sh"
source "$here/../lib/bench-gpu.sh"
knn_tables floor "$rows" "$dims" "$work" || exit 1
one() { knn_query floor "$1"; }

# measure PRECISION: one table row per figure
measure() {
    local precision=$1 batch_ms lateral_ms differing executor
    psql -X -q -v ON_ERROR_STOP=1 -c "DROP INDEX IF EXISTS floor_idx" \
        -c "CREATE INDEX floor_idx ON floor_items USING hybrid (embedding vector_cosine_ops) WITH (precision = '$precision')" \
        -c "SELECT hybridsearch_prewarm('floor_idx')" >/dev/null || return 1
    sql "EXPLAIN (COSTS OFF) $(one 1)" | grep -q 'Index Scan using floor_idx' ||
        { echo "| $precision | the query does not use the index | |"; return 1; }
    one_client_rows "$precision" "$work" "$work/knn.sql" "$seconds"
    for i in $(seq 1 200); do one $(( i % 1000 + 1 )); done | gpu_request_breakdown "$precision" "$pglog"
    executor=$(knn_explains floor | executor_row "$precision")
    echo "$executor"
    busy_rows "$precision" "$(sed -n 's/.* | \([0-9.]*\) ms |$/\1/p' <<<"$executor")" "$work" "$seconds"
    clients_row "$precision" floor_idx "$clients" "$seconds" "$work/knn.sql" "$pglog"
    # the same clients with the worker waiting for each launch before the next
    psql -X -q -c "ALTER SYSTEM SET hybridsearch.gpu_launches_in_flight = 1" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 1
    clients_row "$precision, one launch at a time" floor_idx "$clients" "$seconds" "$work/knn.sql" "$pglog"
    psql -X -q -c "ALTER SYSTEM RESET hybridsearch.gpu_launches_in_flight" -c "SELECT pg_reload_conf()" >/dev/null
    sleep 1
    (
        export PGOPTIONS="-c hybridsearch.reuse_scan_distances=off"
        one_client_rows "$precision, recomputed" "$work" "$work/knn.sql" "$seconds"
        knn_explains floor | executor_row "$precision, recomputed"
        clients_row "$precision, recomputed" floor_idx "$clients" "$seconds" "$work/knn.sql"
    )
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

# baseline_row WHAT SCRIPT: one client's mean latency (pgbench's own: its
# per-transaction log says 0 us for a transaction whose answer was there
# when it looked, as SELECT 1's often is)
baseline_row() {
    echo "| none | 1 client, $1: mean latency | $(pgbench -n -M prepared -c 1 -T "$seconds" -f "$2" 2>&1 |
        sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p') ms |"
}

# the client's round trip and the query vector's lookup, without a search
cat >"$work/lookup.sql" <<'SQL'
\set q random(1, 1000)
SELECT 1 FROM floor_queries WHERE q = :q AND embedding IS NOT NULL;
SQL
echo 'SELECT 1;' >"$work/one.sql"
{
    echo "| precision | what ($rows x $dims, cosine top-10, $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)) | measured |"
    echo "|---|---|--:|"
    baseline_row "SELECT 1" "$work/one.sql"
    baseline_row "the query vector's row alone" "$work/lookup.sql"
    ceiling_row floor "$clients" "$seconds" "$work"
    measure full
    measure half
} | tee "$outfile"
psql -X -q -c "DROP TABLE floor_items, floor_queries"
