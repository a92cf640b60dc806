#!/usr/bin/env bash
# The shared copy's figures (issue 13), against a running server with the
# library preloaded; prints a Markdown table.
#
#   test/bench-shared-copy.sh ROWS DIMS
#
# Environment: PGDATA, PGLOG and PG_AS (the data directory, the server log
# and the OS user that runs pg_ctl there: the script restarts the server),
# PGHOST/PGUSER/PGDATABASE for psql, CLIENTS (default 64), SECONDS_PER_RUN
# (default 15).  test/bench-index.sh and test/gpu/run-all.sh (part
# "sharedcopy") run it.  Measured, cosine top-10 through SQL:
#   - the first query after a restart, without prewarm (it loads the copy);
#   - a new connection's first query once the copy is loaded (median of 15),
#     and how much private memory (RssAnon) that query adds to the backend;
#   - a warm query (median of 21 in one connection);
#   - after a restart with hybridsearch.prewarm: how long the prewarm took
#     (its log line), and the first query after it;
#   - CLIENTS pgbench clients: queries per second and host memory (every
#     backend's RssAnon plus the one copy) over the copy's size;
#   - the index not fitting hybridsearch.shared_cache_size (half its copy):
#     the streamed scan against a sequential and a parallel sequential scan.
set -uo pipefail
rows=${1:-100000}
dims=${2:-768}
clients=${CLIENTS:-64}
seconds=${SECONDS_PER_RUN:-15}
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$PATH:/usr/sbin:/sbin"
work=$(mktemp -d /tmp/bench-shared.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

sql() { psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }
restart() {
    runuser -u "$PG_AS" -- env LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}" PATH="$PATH" \
        pg_ctl -D "$PGDATA" -l "$PGLOG" -w -t 300 restart >/dev/null
}
# ms of a query run in a new connection, after SET lines
timed() {
    psql -X -At -v ON_ERROR_STOP=1 -c '\timing on' ${2:+-c "$2"} -c "$1" |
        awk '/^Time:/ { t = $2 } END { print t }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "n/a" }'; }
query() { echo "SELECT id FROM sc_items ORDER BY embedding <=> (SELECT embedding FROM sc_queries WHERE q = $1) LIMIT 10"; }
anon_kb() { sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || echo 0; }

source "$root/test/lib/bench-data.sh"
bench_vectors "$rows" "$dims" "$work/vectors.bin" 13 || exit 1
{
    bench_tables_sql sc "$dims" "$work/vectors.bin" 100 0.3
    echo "CREATE INDEX sc_items_embedding_idx ON sc_items USING hybrid (embedding vector_cosine_ops);"
} | psql -X -q -v ON_ERROR_STOP=1 || exit 1
sql "EXPLAIN (COSTS OFF) $(query 1)" | grep -q 'Index Scan using sc_items_embedding_idx' ||
    { echo "the query does not use the hybrid index" >&2; exit 1; }

restart
cold=$(timed "$(query 1)")
copy_bytes=$(sql "SELECT cpu_cached_bytes FROM hybridsearch_stats WHERE index = 'sc_items_embedding_idx'::regclass")
load_ms=$(sql "SELECT round(last_load_ms) FROM hybridsearch_stats WHERE index = 'sc_items_embedding_idx'::regclass")
path=$(sql "SELECT CASE WHEN gpu_scans > 0 THEN 'GPU' ELSE 'CPU' END FROM hybridsearch_stats WHERE index = 'sc_items_embedding_idx'::regclass")
newconn=$(for i in $(seq 2 16); do timed "$(query "$i")"; done | median)
growth=$(psql -X -At -v ON_ERROR_STOP=1 <<SQL
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\s+(\d+)'))[1] AS a0 \gset
$(query 17) \g /dev/null
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\s+(\d+)'))[1]::int - :a0;
SQL
)
warm=$({ echo '\timing on'; for i in $(seq 1 21); do echo "$(query "$i") \\g /dev/null"; done; } |
    psql -X -At | awk '/^Time:/ { print $2 }' | median)

sql "ALTER SYSTEM SET hybridsearch.prewarm = '$(sql 'SELECT current_database()'):public.sc_items_embedding_idx'" >/dev/null
log_lines=$(wc -l <"$PGLOG")
restart
for _ in $(seq 1 600); do
    grep -q 'hybridsearch prewarm: index "public.sc_items_embedding_idx"' <(tail -n +"$log_lines" "$PGLOG") && break
    sleep 0.1
done
prewarm_ms=$(tail -n +"$log_lines" "$PGLOG" | sed -n 's/.*hybridsearch prewarm: index "public.sc_items_embedding_idx": [0-9]* rows in \([0-9]*\) ms.*/\1/p' | tail -1)
after_prewarm=$(timed "$(query 18)")
sql "ALTER SYSTEM RESET hybridsearch.prewarm" >/dev/null

cat >"$work/knn.sql" <<'SQL'
\set q random(1, 100)
SELECT id FROM sc_items ORDER BY embedding <=> (SELECT embedding FROM sc_queries WHERE q = :q) LIMIT 10;
SQL
pgbench -n -M prepared -c "$clients" -j "$(( clients < $(nproc) ? clients : $(nproc) ))" -T "$seconds" \
    -f "$work/knn.sql" >"$work/pgbench.log" 2>&1 &
bench=$!
sleep $(( seconds * 2 / 3 ))
anon_total=0
for pid in $(sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'"); do
    anon_total=$(( anon_total + $(anon_kb "$pid") ))
done
wait "$bench"
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.log" | head -1)
ratio=$(awk -v a="$anon_total" -v c="$copy_bytes" 'BEGIN { printf "%.2f", (a * 1024 + c) / c }')

sql "ALTER SYSTEM SET hybridsearch.shared_cache_size = '$(( copy_bytes / 2 / 1048576 ))MB'" >/dev/null
restart
stream=$(for i in $(seq 1 5); do timed "$(query "$i")"; done | median)
streamed=$(sql "SELECT streamed_scans FROM hybridsearch_stats WHERE index = 'sc_items_embedding_idx'::regclass")
seqscan=$(for i in $(seq 1 5); do timed "$(query "$i")" "SET enable_indexscan = off; SET max_parallel_workers_per_gather = 0"; done | median)
parallel=$(for i in $(seq 1 5); do timed "$(query "$i")" "SET enable_indexscan = off; SET max_parallel_workers_per_gather = $(nproc)"; done | median)
sql "ALTER SYSTEM RESET hybridsearch.shared_cache_size" >/dev/null
restart

cat <<EOF
| $rows x $dims, cosine top-10, path $path ($(nproc) cores) | value |
|---|--:|
| copy size (MB) | $(( copy_bytes / 1048576 )) |
| first query after a restart, no prewarm (ms; loads the copy) | $cold |
| of which the load (ms, last_load_ms) | $load_ms |
| new connection's first query, copy loaded (median of 15, ms) | $newconn |
| private memory that query adds (RssAnon, kB) | $growth |
| warm query (median of 21, ms) | $warm |
| prewarm at start-up (ms, its log line) | ${prewarm_ms:-n/a} |
| first query after the prewarm (ms) | $after_prewarm |
| $clients clients: queries/s | $tps |
| $clients clients: (sum of backends' RssAnon + one copy) / copy | $ratio |
| copy does not fit: streamed scan (median of 5, ms; $streamed streamed) | $stream |
| sequential scan (median of 5, ms) | $seqscan |
| parallel sequential scan, $(nproc) workers (median of 5, ms) | $parallel |
EOF
