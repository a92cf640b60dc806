# Sourced by the GPU benchmark scripts that measure one index through SQL
# (test/gpu/bench-floor.sh, test/gpu/bench-large.sh), against a server
# with the library preloaded, as its superuser: their figures, taken one way.
# Each function prints markdown table rows "| LABEL | what | measured |".
#
#   sql STATEMENT                          one statement, unaligned output
#   knn_tables PREFIX ROWS DIMS DIR        PREFIX_items (ROWS x DIMS) and
#       PREFIX_queries (1000 queries) from test/lib/bench-data.sh, which the
#       caller sources, and DIR/knn.sql: pgbench's top-10 cosine query
#   knn_query PREFIX Q                     that query for query number Q
#   knn_explains PREFIX                    50 EXPLAIN ANALYZEs of it, for executor_row
#   median_of, pct_of P                    of the numbers on stdin, one a line
#   log_latencies DIR                      pgbench's per-transaction logs in DIR, in ms
#   one_client_rows LABEL DIR SCRIPT SECONDS
#       warms the path up (3 s), then one client runs SCRIPT (pgbench -M
#       prepared, its log in DIR): p50 and p90 latency
#   gpu_request_breakdown LABEL PGLOG < QUERIES
#       runs the statements on stdin with log_min_messages = debug1, and
#       prints the medians of the backend's "hybridsearch GPU request" line
#       (round trip, the worker's turnaround, its CUDA host call, the
#       kernels, taking the answer) and of its "hybridsearch scan" line
#       (the search's set-up, its whole time, which holds the round trip
#       and the exact scoring of the rows it returns, and the executor's
#       time between rows), and the plans of the worker's launches (its
#       "hybridsearch GPU launch" lines) with how many launches each ran
#   executor_row LABEL < EXPLAINS
#       runs the EXPLAIN (ANALYZE) statements on stdin and prints the median
#       of their execution times: the executor's share of one query (its
#       start, the query vector's subquery, the index scan with its GPU
#       round trip, heap fetches, projection)
#   busy_rows LABEL MS DIR SECONDS
#       a baseline for the share of one query outside the executor: a
#       query that keeps the executor busy MS ms without a search (an md5,
#       its length calibrated here), one client's
#       p50 and p90 (one_client_rows) and its executor time (executor_row).
#       The client sleeps as long as for a search, so its p50 less its
#       executor time is what any query that long pays outside the executor
#   ceiling_row PREFIX CLIENTS SECONDS DIR
#       CLIENTS clients run the top-10 query over a hybrid index of 100 of
#       PREFIX_items' rows on the CPU path (its copy in memory, 100
#       distances, the rows' distances reused as on the GPU path): queries
#       per second with all a query costs but the GPU search, the ceiling
#       the machine's CPUs set on CLIENTS clients' throughput
#   clients_row LABEL INDEX CLIENTS SECONDS SCRIPT [PGLOG]
#       CLIENTS clients run SCRIPT: queries per second, and this run's mean
#       queries and kernel time per GPU launch and fallbacks from
#       hybridsearch_stats; with PGLOG, then 2 s more with the worker's
#       launches logged (DEBUG1): the plans that served them, how many
#       launches left queries for the next (hs_gpu_launch_size), and how
#       many started while another was in flight (gpu/gpu_launches.c)
# THREADS (pgbench -j, default the CPU count) bounds pgbench's threads.

sql() { psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }
knn_tables() {
    local prefix=$1 rows=$2 dims=$3 dir=$4
    bench_vectors "$rows" "$dims" "$dir/vectors.bin" 19 || return 1
    bench_tables_sql "$prefix" "$dims" "$dir/vectors.bin" 1000 0.9 | psql -X -q -v ON_ERROR_STOP=1 || return 1
    printf '\\set q random(1, 1000)\n%s\n' "$(knn_query "$prefix" :q)" >"$dir/knn.sql"
}
knn_query() { echo "SELECT id FROM $1_items ORDER BY embedding <=> (SELECT embedding FROM $1_queries WHERE q = $2) LIMIT 10;"; }
# tiny_query PREFIX Q: knn_query over ceiling_row's 100-row table
tiny_query() { knn_query "$1" "$2" | sed "s/$1_items/$1_tiny/"; }
knn_explains() { for i in $(seq 1 50); do echo "EXPLAIN (ANALYZE, TIMING OFF) $(knn_query "$1" $(( i * 7 % 1000 + 1 )))"; done; }
median_of() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", v[int((NR + 1) / 2)]; else print "n/a" }'; }
pct_of() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (NR) printf "%.3f", v[int(NR * p / 100 + 0.999)]; else print "n/a" }'; }
log_latencies() { cat "$1"/pgbench_log.* 2>/dev/null | awk '{ print $3 / 1000 }'; }

one_client_rows() {
    local label=$1 dir=$2 script=$3 seconds=$4 lat
    (cd "$dir" && pgbench -n -M prepared -c 1 -T 3 -f "$script" >/dev/null 2>&1)
    rm -f "$dir"/pgbench_log.*
    (cd "$dir" && pgbench -n -M prepared -c 1 -T "$seconds" -l -f "$script" >"$dir/one.log" 2>&1)
    lat=$(log_latencies "$dir")
    echo "| $label | 1 client: p50 latency | $(median_of <<<"$lat") ms |"
    echo "| $label | 1 client: p90 latency | $(pct_of 90 <<<"$lat") ms |"
}

gpu_request_breakdown() {
    local label=$1 pglog=$2 logged
    logged=$(debug1_lines "$pglog" psql -X -q)
    log_medians "$label" "per request" "$(grep -o 'hybridsearch GPU request: .*' <<<"$logged")" \
        'round trip' 'worker' 'CUDA host call' 'kernels' 'taking the answer'
    log_medians "$label" "per scan" "$(grep -o 'hybridsearch scan: .*' <<<"$logged")" \
        'set-up' 'in the search' 'the executor between rows'
    echo "| $label | 1 client: the plans of the worker's launches | $(
        grep -o 'hybridsearch GPU launch: .*' <<<"$logged" | launch_plans) |"
}

# launch_plans < WORKER_LINES: "N x plan; ..." (N launches), most used first
launch_plans() {
    sed -n 's/.*, plan //p' | sort | uniq -c | sort -rn |
        awk '{ n = $1; sub(/^ *[0-9]+ /, ""); printf "%s%d x %s", (NR > 1 ? "; " : ""), n, $0 }
             END { if (!NR) printf "none logged" }'
}

# log_medians LABEL WHAT LINES FIELD...: a row per FIELD, the median of
# its "FIELD N ms" over LINES
log_medians() {
    local label=$1 what=$2 lines=$3 field
    shift 3
    for field in "$@"; do
        echo "| $label | 1 client, $what: $field (median of $(grep -c . <<<"$lines")) | $(
            sed -n "s/.*$field \([0-9.]*\) ms.*/\1/p" <<<"$lines" | median_of) ms |"
    done
}

executor_row() {
    local times
    times=$(psql -X -At | sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p')
    echo "| $1 | 1 client, per query: the executor (EXPLAIN ANALYZE's execution time, median of $(
        grep -c . <<<"$times")) | $(median_of <<<"$times") ms |"
}

busy_rows() {
    local label=$1 ms=$2 dir=$3 seconds=$4 per_10mb bytes
    # one row, no buffers: an md5 over BYTES bytes (random() keeps the
    # planner from folding it), BYTES calibrated on 10 MB
    per_10mb=$(for i in 1 2 3 4 5; do echo "EXPLAIN (ANALYZE, TIMING OFF) $(busy_query 10000000);"; done |
        psql -X -At | sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p' | median_of)
    bytes=$(awk -v ms="$ms" -v m="$per_10mb" 'BEGIN { printf "%d", (m > 0 ? 10000000 * ms / m : 1) }')
    echo "$(busy_query "$bytes");" >"$dir/busy.sql"
    one_client_rows "$label, baseline: md5 of $bytes bytes" "$dir" "$dir/busy.sql" "$seconds"
    for i in $(seq 1 50); do echo "EXPLAIN (ANALYZE, TIMING OFF) $(busy_query "$bytes");"; done |
        executor_row "$label, baseline: md5 of $bytes bytes"
}
busy_query() { echo "SELECT length(md5(repeat('x', $1 + (random() * 0)::int)))"; }

ceiling_row() {
    local prefix=$1 clients=$2 seconds=$3 dir=$4 threads=${THREADS:-$(nproc)} tps=
    # 100 rows: the planner would scan the table, and enable_seqscan = off
    # makes the plan's cost high enough to JIT-compile it (about 100 ms)
    local cpu="-c hybridsearch.device=cpu -c enable_seqscan=off -c jit=off"
    sql "SET client_min_messages = warning; DROP TABLE IF EXISTS ${prefix}_tiny; CREATE TABLE ${prefix}_tiny AS
        SELECT * FROM ${prefix}_items ORDER BY id LIMIT 100;
        CREATE INDEX ON ${prefix}_tiny USING hybrid (embedding vector_cosine_ops); ANALYZE ${prefix}_tiny" >/dev/null
    printf '\\set q random(1, 1000)\n%s\n' "$(tiny_query "$prefix" :q)" >"$dir/tiny.sql"
    if PGOPTIONS=$cpu sql "EXPLAIN (COSTS OFF) $(tiny_query "$prefix" 1)" |
        grep -q "Index Scan using ${prefix}_tiny"; then
        tps=$(PGOPTIONS=$cpu pgbench -n -M prepared -c "$clients" -j "$(( clients < threads ? clients : threads ))" \
            -T "$seconds" -f "$dir/tiny.sql" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    fi
    sql "DROP TABLE ${prefix}_tiny" >/dev/null
    [ -n "$tps" ] && tps="${tps%.*} q/s" || tps="the query does not use the index"
    echo "| none | $clients clients, the same query over 100 rows on the CPU path (no GPU search): the CPUs' ceiling | $tps |"
}

clients_row() {
    local label=$1 index=$2 clients=$3 seconds=$4 script=$5 threads=${THREADS:-$(nproc)} tps stats logged
    # the statistics are cumulative: this run's means from the totals before and after
    sql "SET client_min_messages = warning; DROP TABLE IF EXISTS bench_gpu_before;
        CREATE TABLE bench_gpu_before AS SELECT gpu_scans AS s,
        gpu_scans * coalesce(mean_gpu_batch, 0) AS b, gpu_scans * coalesce(mean_gpu_kernel_ms, 0) AS k,
        gpu_fallbacks AS f FROM hybridsearch_stats WHERE index = '$index'::regclass" >/dev/null
    tps=$(pgbench -n -M prepared -c "$clients" -j "$(( clients < threads ? clients : threads ))" \
        -T "$seconds" -f "$script" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    stats=$(sql "SELECT round(((h.gpu_scans * h.mean_gpu_batch - b.b) / nullif(h.gpu_scans - b.s, 0))::numeric, 1)
        || ' queries per launch, ' ||
        round(((h.gpu_scans * h.mean_gpu_kernel_ms - b.k) / nullif(h.gpu_scans - b.s, 0))::numeric, 3)
        || ' ms of kernels per launch, ' || h.gpu_fallbacks - b.f || ' fallbacks'
        FROM hybridsearch_stats h, bench_gpu_before b WHERE h.index = '$index'::regclass")
    sql "DROP TABLE bench_gpu_before" >/dev/null
    echo "| $label | $clients clients | ${tps%.*} q/s ($stats) |"
    if [ -n "${6:-}" ]; then
        logged=$(debug1_lines "$6" pgbench -n -M prepared -c "$clients" -j "$(( clients < threads ? clients : threads ))" \
            -T 2 -f "$script")
        echo "| $label | $clients clients: the plans of the worker's launches (2 s logged) | $(
            grep -o 'hybridsearch GPU launch: .*' <<<"$logged" | launch_plans); $(
            grep -c 'queries left for the next launch' <<<"$logged") launches left queries for the next; $(
            grep -c 'started while another launch ran' <<<"$logged") started while another ran |"
    fi
}

# debug1_lines PGLOG COMMAND...: the server log's lines written while
# COMMAND ran with log_min_messages = debug1
debug1_lines() {
    local pglog=$1 mark
    shift
    sql "ALTER SYSTEM SET log_min_messages = debug1" >/dev/null; sql "SELECT pg_reload_conf()" >/dev/null
    sleep 1
    mark=$(wc -l <"$pglog")
    "$@" >/dev/null 2>&1
    sql "ALTER SYSTEM RESET log_min_messages" >/dev/null; sql "SELECT pg_reload_conf()" >/dev/null
    tail -n +"$((mark + 1))" "$pglog"
}
