#!/usr/bin/env bash
# A large index in one run of at most 600 s on one GPU machine (test/gpu/
# run-all.sh, part "large", runs it against its server as the same
# superuser, with hybridsearch.shared_cache_size set for it):
#
#   test/gpu/bench-large.sh [ROWS] [DIMS] [OUTFILE]     (default 10000000 768)
#
# The table is UNLOGGED (no WAL) and its column halfvec(DIMS) (LARGE_TYPE,
# or vector): a halfvec row takes half the heap of a vector's, so 10M x 768
# fits a 64 GB disk (about 16 GB of heap and 31 GB of index pages, whose
# entries are float4); vector needs 72 GB.  In order:
#   1. checks gen_copy_binary.c's binary COPY against the server's text
#      input (1000 rows of each type must read back alike);
#   2. another index, 100k x DIMS vector (OTHER_ROWS), loaded and prewarmed;
#   3. measures the heap and index bytes per row on PROBE_ROWS (20000) rows
#      and stops, saying so, unless the data directory's file system has
#      room for ROWS of them and 3 GB more (or the shared copy would not fit
#      hybridsearch.shared_cache_size);
#   4. generates the rows in STREAMS (default the CPU count) parallel
#      gen_copy_binary | psql COPY FROM STDIN pipes, each its own id range;
#   5. builds the hybrid index (halfvec_cosine_ops: an fp16 copy;
#      vector_cosine_ops: fp32, or WITH (precision = ...) for each of
#      LARGE_PRECISIONS in turn, e.g. "full half"), then
#      loads its shared copy (hybridsearch.device = cpu) and its GPU copy
#      (hybridsearch_prewarm again with device = gpu), while one client
#      queries the other index: its p50, p99 and max latency in each of
#      those phases against its own BASE_SECONDS (10) just before;
#   6. on the large index, as test/gpu/bench-floor.sh: one client's p50 and
#      p90 latency, where a request's time goes (DEBUG1 medians, and the
#      executor's share by EXPLAIN ANALYZE, median of 20), CLIENTS
#      (64) clients' queries per second; once for each of DEVICE_SETS
#      (default "all": hybridsearch.gpu_devices values, each after a reload
#      and a timed upload of the GPU copy to those devices; "all 0" gives
#      two GPUs' figures, then one's);
#   7. EXACT_QUERIES (5) queries by the index (on the last of DEVICE_SETS),
#      and once, after the last precision's, by a sequential scan
#      (enable_indexscan = off): how many top-10 distances differ;
# with each phase's wall time, then drops it all.  LARGE_TABLESPACE, a
# directory (e.g. /dev/shm/hs-large, a tmpfs), puts the large table's heap
# in a tablespace there and leaves its index in the data directory: 10M x
# 768 vector (41 GB of heap, 31 GB of index) then fits the 64 GB disk.
# Each row goes to OUTFILE as soon as it is measured, so a run cut short
# keeps what it measured.
# Environment: SECONDS_PER_RUN (default 15), CLIENTS, THREADS (pgbench -j),
# LARGE_TYPE, LARGE_PRECISIONS, LARGE_TABLESPACE, DEVICE_SETS, STREAMS, OTHER_ROWS,
# PROBE_ROWS, BASE_SECONDS, EXACT_QUERIES, PGLOG (the server log, default
# /tmp/pg.log).
set -uo pipefail
rows=${1:-10000000}
dims=${2:-768}
outfile=${3:-/dev/null}
seconds=${SECONDS_PER_RUN:-15}
clients=${CLIENTS:-64}
streams=${STREAMS:-$(nproc)}
other_rows=${OTHER_ROWS:-100000}
probe_rows=${PROBE_ROWS:-20000}
base_seconds=${BASE_SECONDS:-10}
exact_queries=${EXACT_QUERIES:-5}
type=${LARGE_TYPE:-halfvec}
device_sets=${DEVICE_SETS:-all}
tablespace_dir=${LARGE_TABLESPACE:-}
pglog=${PGLOG:-/tmp/pg.log}
slack=$(( 3 * 1024 * 1024 * 1024 ))
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/bench-large.XXXXXX)
chmod 777 "$work"
watcher=""
drop_tables() {
    psql -X -q -c "DROP TABLE IF EXISTS large_items, large_other_items,
        large_queries, large_check_binary, large_check_text, large_exact" 2>/dev/null
}
cleanup() {
    [ -n "$watcher" ] && kill "$watcher" 2>/dev/null
    # DEVICE_SETS may have left another value: back to the configuration's
    sql "ALTER SYSTEM RESET hybridsearch.gpu_devices" >/dev/null && sql "SELECT pg_reload_conf()" >/dev/null
    drop_tables
    if [ -n "$tablespace_dir" ]; then
        sql "DROP TABLESPACE IF EXISTS large_space" >/dev/null
        rm -rf "$tablespace_dir"
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# NOTICEs (tables that do not exist yet) would only clutter the output
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
source "$here/../lib/bench-data.sh"
source "$here/../lib/bench-gpu.sh"

: >"$outfile"
row() { echo "$1" | tee -a "$outfile"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
phase_row() { row "| phase | $1 | $(since "$2") s |"; }	# phase_row WHAT START

# load_rows TABLE TYPE COUNT FIRST_ID SEED STREAMS: COUNT generated rows
# from FIRST_ID on, through STREAMS parallel COPY pipes
load_rows() {
    local table=$1 type=$2 count=$3 first=$4 seed=$5 n=$6 s pids=() failed=0
    for (( s = 0; s < n; s++ )); do
        "$work/gen" "$type" "$dims" $(( first + count * s / n )) $(( count * (s + 1) / n - count * s / n )) "$seed" |
            psql -X -q -v ON_ERROR_STOP=1 -c "COPY $table FROM STDIN (FORMAT binary)" &
        pids+=($!)
    done
    for s in "${pids[@]}"; do wait "$s" || failed=1; done
    return $failed
}

# check_generator TYPE: rows differing between binary COPY and text input
check_generator() {
    local type=$1
    sql "DROP TABLE IF EXISTS large_check_binary, large_check_text;
        CREATE UNLOGGED TABLE large_check_binary (id int, embedding $type($dims));
        CREATE UNLOGGED TABLE large_check_text (id int, embedding $type($dims))" >/dev/null &&
    "$work/gen" "$type" "$dims" 1 1000 7 | psql -X -q -v ON_ERROR_STOP=1 -c "COPY large_check_binary FROM STDIN (FORMAT binary)" &&
    "$work/gen" "$type" "$dims" 1 1000 7 text | psql -X -q -v ON_ERROR_STOP=1 -c "COPY large_check_text FROM STDIN" &&
    sql "SELECT count(*) FROM large_check_binary b FULL JOIN large_check_text t USING (id)
        WHERE b.embedding::text IS DISTINCT FROM t.embedding::text"
}

# latency_row WHAT FROM TO: the other index's client, transactions ending in [FROM, TO)
latency_row() {
    local lat
    lat=$(cat "$work"/watch/pgbench_log.* 2>/dev/null |
        awk -v from="$2" -v to="$3" '{ t = $5 + $6 / 1e6; if (t >= from && t < to) print $3 / 1000 }')
    row "| other index | 1 client during $1: p50 / p99 / max latency ($(grep -c . <<<"$lat") queries) | $(
        median_of <<<"$lat") / $(pct_of 99 <<<"$lat") / $(sort -n <<<"$lat" | tail -n 1) ms |"
}

# hybridsearch_prewarm('large_idx') on the GPU: its rows, or its error.  A
# backend waits gpu_timeout (30 s) for the worker: the upload of a large
# copy may take longer
prewarm_gpu() {
    psql -X -q -At -c "SET hybridsearch.device = gpu" -c "SET hybridsearch.gpu_timeout = '10min'" \
        -c "SELECT hybridsearch_prewarm('large_idx')" 2>&1 | paste -sd ' '
}

# a row's bytes in the shared copy of a TYPE index, and the extents for
# ROWS rows of PER_ROW bytes, in MB (doc/internals.md)
copy_row_bytes() { if [ "$1" = halfvec ]; then echo $(( 2 * dims + 23 )); else echo $(( 4 * dims + 11 )); fi; }
copy_mb() { echo $(( ($1 + (2097152 - 384) / $2 - 1) / ((2097152 - 384) / $2) * 2 )); }

row "| part | what ($rows x $dims, cosine top-10, $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)) | measured |"
row "|---|---|--:|"
cc -O2 -o "$work/gen" "$here/gen_copy_binary.c" || exit 1
sql "CREATE EXTENSION IF NOT EXISTS hybridsearch" >/dev/null || exit 1
drop_tables
datadir=$(sql "SHOW data_directory")
heap_dir=$datadir
table_space=""
if [ -n "$tablespace_dir" ]; then
    mkdir -p "$tablespace_dir" && chown "$(stat -c %U "$datadir")" "$tablespace_dir" &&
        sql "CREATE TABLESPACE large_space LOCATION '$tablespace_dir'" >/dev/null ||
        { row "| setup | CREATE TABLESPACE in $tablespace_dir failed | |"; exit 1; }
    heap_dir=$tablespace_dir
    table_space="TABLESPACE large_space"
fi
for checked in halfvec vector; do
    differing=$(check_generator "$checked") && [ "$differing" = 0 ] ||
        { row "| check | gen_copy_binary $checked: binary COPY against text input | FAILED ($differing rows differ) |"; exit 1; }
done
row "| check | gen_copy_binary: 1000 rows each of halfvec and vector, binary COPY against text input | 0 rows differ |"

# 2. the other index, and the queries
start=$(now)
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE UNLOGGED TABLE large_other_items (id int, embedding vector($dims))" \
    -c "ALTER TABLE large_other_items ALTER embedding SET STORAGE PLAIN" || exit 1
load_rows large_other_items vector "$other_rows" 1 11 "$streams" || exit 1
bench_queries_sql large "$dims" 1000 0.9 | psql -X -q -v ON_ERROR_STOP=1 || exit 1
psql -X -q -v ON_ERROR_STOP=1 -c "VACUUM ANALYZE large_other_items" \
    -c "CREATE INDEX large_other_idx ON large_other_items USING hybrid (embedding vector_cosine_ops)" \
    -c "SELECT hybridsearch_prewarm('large_other_idx')" >/dev/null || exit 1
phase_row "the other index: $other_rows x $dims vector, load, build, prewarm" "$start"

# 3. bytes per row, against the free space and the shared cache
start=$(now)
psql -X -q -v ON_ERROR_STOP=1 -c "CREATE UNLOGGED TABLE large_items (id int, embedding $type($dims)) $table_space" \
    -c "ALTER TABLE large_items ALTER embedding SET STORAGE PLAIN" || exit 1
load_rows large_items "$type" "$probe_rows" 1 19 1 &&
    sql "CREATE INDEX large_probe_idx ON large_items USING hybrid (embedding ${type}_cosine_ops)" >/dev/null || exit 1
read -r heap_row index_row < <(sql "SELECT round(pg_table_size('large_items') / $probe_rows.0, 1),
    round(pg_indexes_size('large_items') / $probe_rows.0, 1)" | tr '|' ' ')
sql "DROP INDEX large_probe_idx; TRUNCATE large_items" >/dev/null || exit 1
# room_for DIR BYTES_PER_ROW...: whether DIR's file system holds ROWS rows of their sum and 3 GB more
room_for() {
    local dir=$1 free need
    shift
    free=$(df -B1 --output=avail "$dir" | tail -n 1)
    need=$(awk -v r="$rows" -v s="$slack" -v per="$*" 'BEGIN { n = split(per, p, " "); t = 0
        for (i = 1; i <= n; i++) t += p[i]; printf "%.0f", r * t + s }')
    row "| disk | free in $dir; needed for $rows rows with 3 GB to spare | $(( free >> 20 )) MB; $(( need >> 20 )) MB |"
    [ "$free" -ge "$need" ]
}
row "| disk | bytes per row ($probe_rows rows): heap / index | $heap_row / $index_row |"
if [ "$heap_dir" = "$datadir" ]; then
    room_for "$datadir" "$heap_row" "$index_row"
else
    room_for "$heap_dir" "$heap_row" && room_for "$datadir" "$index_row"
fi || { row "| disk | too little free space: not started | |"; exit 0; }
cache_mb=$(sql "SELECT setting FROM pg_settings WHERE name = 'hybridsearch.shared_cache_size'")
need_mb=$(( $(copy_mb "$rows" $(copy_row_bytes "$type")) + $(copy_mb "$other_rows" $(copy_row_bytes vector)) ))
if [ "$cache_mb" -ge 0 ] && [ "$cache_mb" -lt "$need_mb" ]; then
    row "| memory | the shared copies need $need_mb MB; hybridsearch.shared_cache_size is $cache_mb MB: not started | |"
    exit 0
fi
phase_row "bytes per row and free space" "$start"

# 4. the rows
start=$(now)
load_rows large_items "$type" "$rows" 1 19 "$streams" || { row "| load | COPY failed | |"; exit 1; }
took=$(since "$start")
row "| phase | generation + COPY, $streams streams | $took s ($(awk -v r="$rows" -v t="$took" 'BEGIN { printf "%.0f", (t > 0 ? r / t : 0) }'
    ) rows/s; heap $(( $(sql "SELECT pg_table_size('large_items')") >> 20 )) MB) |"

# 5. for each precision: build and prewarm while one client queries the
# other index
cat >"$work/other.sql" <<'SQL'
\set q random(1, 1000)
SELECT id FROM large_other_items ORDER BY embedding <=> (SELECT embedding FROM large_queries WHERE q = :q) LIMIT 10;
SQL
mkdir "$work/watch" && chmod 777 "$work/watch"
# index_options PRECISION: the WITH clause of the large index ("" for the type's own)
index_options() { [ -n "$1" ] && echo "WITH (precision = '$1')"; }
# build_and_load PRECISION
build_and_load() {
    local options t_build t_shared t_gpu t_end loaded gpu_bytes fallbacks lat
    options=$(index_options "$1")
    rm -f "$work"/watch/pgbench_log.*
    (cd "$work/watch" && pgbench -n -M prepared -c 1 -T "$base_seconds" -l -f "$work/other.sql" >/dev/null 2>&1)
    lat=$(log_latencies "$work/watch")
    row "| other index | 1 client before the load: p50 / p99 / max latency ($(grep -c . <<<"$lat") queries) | $(
        median_of <<<"$lat") / $(pct_of 99 <<<"$lat") / $(sort -n <<<"$lat" | tail -n 1) ms |"
    rm -f "$work"/watch/pgbench_log.*
    fallbacks=$(sql "SELECT gpu_fallbacks FROM hybridsearch_stats WHERE index = 'large_other_idx'::regclass")
    # ended by terminating its connection once the load is done: pgbench then writes its log out
    (cd "$work/watch" && PGAPPNAME=large-watch exec pgbench -n -M prepared -c 1 -T 3600 -l -f "$work/other.sql" \
        >"$work/watch.out" 2>&1) &
    watcher=$!
    sleep 1
    t_build=$(now)
    # dropped in a transaction of its own, so that its files are gone before the build writes
    sql "DROP INDEX IF EXISTS large_idx" >/dev/null &&
        sql "CREATE INDEX large_idx ON large_items USING hybrid (embedding ${type}_cosine_ops) $options" >/dev/null ||
        { row "| load | CREATE INDEX $options failed | |"; return 1; }
    row "| phase | CREATE INDEX $options (one backend) | $(since "$t_build") s (index $(( $(sql "SELECT pg_relation_size('large_idx')") >> 20 )) MB) |"
    t_shared=$(now)
    loaded=$(psql -X -q -At -c "SET hybridsearch.device = cpu" -c "SELECT hybridsearch_prewarm('large_idx')" 2>&1 | paste -sd ' ')
    row "| phase | prewarm: the shared copy (device = cpu) | $(since "$t_shared") s ($loaded rows) |"
    gpu_bytes=$(sql "SELECT resident_bytes FROM hybridsearch_gpu_status()")
    t_gpu=$(now)
    loaded=$(prewarm_gpu)
    row "| phase | prewarm: the GPU copy (device = gpu) | $(since "$t_gpu") s ($loaded rows; $(( ($(sql "SELECT resident_bytes
        FROM hybridsearch_gpu_status()") - gpu_bytes) >> 20 )) MB more on the GPU) |"
    t_end=$(now)
    sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'large-watch'" >/dev/null
    wait "$watcher"
    watcher=""
    latency_row "CREATE INDEX" "$t_build" "$t_shared"
    latency_row "the shared copy's load" "$t_shared" "$t_gpu"
    latency_row "the GPU copy's load" "$t_gpu" "$t_end"
    row "| other index | GPU fallbacks during the load | $(( $(sql "SELECT gpu_fallbacks FROM hybridsearch_stats
        WHERE index = 'large_other_idx'::regclass") - fallbacks )) |"
}

# 6. the large index, as bench-floor.sh measures it, on each set of devices
cat >"$work/knn.sql" <<SQL
\\set q random(1, 1000)
SELECT id FROM large_items ORDER BY embedding <=> (SELECT embedding::$type FROM large_queries WHERE q = :q) LIMIT 10;
SQL
one() { echo "SELECT id FROM large_items ORDER BY embedding <=> (SELECT embedding::$type FROM large_queries WHERE q = $1) LIMIT 10;"; }

# use_devices SET: the worker reopened on hybridsearch.gpu_devices = SET,
# the large index's GPU copy uploaded there (timed); false, and a row that
# says so, if the worker does not report those devices within 60 s
use_devices() {
    local set=$1 start tries=0 want=$1 loaded
    [ "$(sql "SHOW hybridsearch.gpu_devices")" = "$set" ] && return 0
    [ "$set" = all ] && want=$(nvidia-smi -L | awk '{ printf "%s%d", NR > 1 ? "," : "", NR - 1 }')
    start=$(now)
    sql "ALTER SYSTEM SET hybridsearch.gpu_devices = '$set'" >/dev/null && sql "SELECT pg_reload_conf()" >/dev/null
    # the worker reopens its devices on the reload: wait until it reports them
    until [ "$(sql "SELECT ready AND array_to_string(devices, ',') = '$want' FROM hybridsearch_gpu_status()")" = t ]; do
        (( ++tries > 600 )) && { row "| phase | hybridsearch.gpu_devices = '$set': the worker did not report GPUs $want within 60 s | |"; return 1; }
        sleep 0.1
    done
    loaded=$(prewarm_gpu)
    row "| phase | hybridsearch.gpu_devices = '$set': reload and upload of the GPU copy | $(since "$start") s ($loaded rows) |"
}
# measure PRECISION: latency, breakdown and clients on each of DEVICE_SETS
measure() {
    local set start label
    sql "EXPLAIN (COSTS OFF) $(one 1)" | grep -q 'Index Scan using large_idx' ||
        { row "| large index | the query does not use the index | |"; return 1; }
    for set in $device_sets; do
        start=$(now)
        use_devices "$set" || continue
        label="large index${1:+ ($1)}, GPUs $(sql "SELECT array_to_string(devices, ',') FROM hybridsearch_gpu_status()")"
        {
            one_client_rows "$label" "$work" "$work/knn.sql" "$seconds"
            for i in $(seq 1 200); do one $(( i % 1000 + 1 )); done | gpu_request_breakdown "$label" "$pglog"
            for i in $(seq 1 20); do echo "EXPLAIN (ANALYZE, TIMING OFF) $(one $(( i * 7 % 1000 + 1 )))"; done |
                executor_row "$label"
            clients_row "$label" large_idx "$clients" "$seconds" "$work/knn.sql" "$pglog"
        } | tee -a "$outfile"
        phase_row "the large index's latency, breakdown and clients on GPUs $set" "$start"
    done
}

# 7. exact: each index's top 10 against a sequential scan's, by distance
# (ties may swap ids); the sequential scan runs once, after the last index
sql "CREATE UNLOGGED TABLE large_exact (q int, how text, distance float8)" >/dev/null
# exact_sql HOW: each query's top-10 distances into large_exact, timed
exact_sql() {
    local q
    echo '\timing on'
    for (( q = 1; q <= exact_queries; q++ )); do
        echo "INSERT INTO large_exact SELECT $q, '$1', embedding <=> (SELECT embedding::$type FROM large_queries WHERE q = $q)
            FROM large_items ORDER BY embedding <=> (SELECT embedding::$type FROM large_queries WHERE q = $q) LIMIT 10;"
    done
}
read -r -a precisions <<<"${LARGE_PRECISIONS:-}"
[ ${#precisions[@]} -gt 0 ] || precisions=("")
index_ms=()
for precision in "${precisions[@]}"; do
    build_and_load "$precision" || exit 1
    measure "$precision"
    index_ms+=("$(exact_sql "index ${precision:-$type}" | psql -X -q -At -v ON_ERROR_STOP=1 | awk '/^Time:/ { print $2 }' | median_of)")
done
start=$(now)
seqscan_ms=$({ echo "SET enable_indexscan = off;"; exact_sql seqscan; } | psql -X -q -At -v ON_ERROR_STOP=1 |
    awk '/^Time:/ { print $2 }' | median_of)
i=0
for precision in "${precisions[@]}"; do
    row "| large index | $exact_queries queries: index${precision:+ ($precision)} against sequential scan, top-10 distances differing | $(sql "
        WITH i AS (SELECT q, distance FROM large_exact WHERE how = 'index ${precision:-$type}'),
            s AS (SELECT q, distance FROM large_exact WHERE how = 'seqscan')
        SELECT count(*) FROM ((SELECT * FROM i EXCEPT ALL SELECT * FROM s) UNION ALL (SELECT * FROM s EXCEPT ALL SELECT * FROM i)) d"
        ) (median time: index ${index_ms[i]} ms, sequential scan $seqscan_ms ms) |"
    i=$(( i + 1 ))
done
phase_row "the sequential scan of the exactness check" "$start"
