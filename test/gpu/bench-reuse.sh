#!/usr/bin/env bash
# hybridsearch.reuse_scan_distances on against off, interleaved, through SQL
# on the GPU path (test/gpu/run-all.sh, part "reuse", on huge pages):
#
#   test/gpu/bench-reuse.sh ROWS DIMS OUTFILE
#
# For a cosine index of ROWS x DIMS in full and then half precision, ROUNDS
# (default 3) rounds of: one client's p50 and p90, the executor's time
# (EXPLAIN ANALYZE, median of 50) and CLIENTS (default 64) clients'
# queries per second, first with the scan's distances taken (on), then
# computed again for each returned row (off).  Alternating the two, so that
# a drift over the run (the GPU's clocks, autotuning, the caches) shows as
# a drift rather than as a difference between them.
# Environment: SECONDS_PER_RUN (default 8), ROUNDS, CLIENTS, THREADS.
set -uo pipefail
rows=${1:-1000000}
dims=${2:-768}
outfile=${3:-/dev/stdout}
seconds=${SECONDS_PER_RUN:-8}
rounds=${ROUNDS:-3}
clients=${CLIENTS:-64}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/bench-reuse.XXXXXX)
chmod 777 "$work"
trap 'rm -rf "$work"' EXIT

source "$here/../lib/bench-data.sh"
source "$here/../lib/bench-gpu.sh"
knn_tables reuse "$rows" "$dims" "$work" || exit 1

# one_setting LABEL VALUE: the three figures with the setting at VALUE
one_setting() {
    local label=$1
    (
        export PGOPTIONS="-c hybridsearch.reuse_scan_distances=$2"
        one_client_rows "$label" "$work" "$work/knn.sql" "$seconds"
        knn_explains reuse | executor_row "$label"
        clients_row "$label" reuse_idx "$clients" "$seconds" "$work/knn.sql"
    )
}

{
    echo "| setting | what ($rows x $dims, cosine top-10, $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)) | measured |"
    echo "|---|---|--:|"
    for precision in full half; do
        psql -X -q -v ON_ERROR_STOP=1 -c "DROP INDEX IF EXISTS reuse_idx" \
            -c "CREATE INDEX reuse_idx ON reuse_items USING hybrid (embedding vector_cosine_ops) WITH (precision = '$precision')" \
            -c "SELECT hybridsearch_prewarm('reuse_idx')" >/dev/null || exit 1
        (cd "$work" && pgbench -n -M prepared -c "$clients" -j "${THREADS:-$(nproc)}" -T 3 -f "$work/knn.sql" >/dev/null 2>&1)
        for round in $(seq 1 "$rounds"); do
            one_setting "$precision, round $round, on" on
            one_setting "$precision, round $round, off" off
        done
    done
} | tee "$outfile"
psql -X -q -c "DROP TABLE reuse_items, reuse_queries"
