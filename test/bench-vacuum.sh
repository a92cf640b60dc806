#!/usr/bin/env bash
# VACUUM's compaction (issue 16) against a running server; prints a
# Markdown table.
#
#   test/bench-vacuum.sh ROWS DIMS
#
# Environment: PGHOST/PGPORT/PGUSER/PGDATABASE for psql; the server must
# read files the script writes under /tmp (COPY FROM a file).  Measured,
# on a table of ROWS random vectors with a cosine hybrid index:
#   - the index's size when built;
#   - DELETE of 80% of the rows, then VACUUM: its duration, compaction's
#     part of it and the longest time it held the index's lock (from its
#     DEBUG2 line), the entries it moved and the pages it freed, the
#     index's size after;
#   - the first scan after it (the copy is loaded again: a new epoch) and a
#     warm scan;
#   - INSERT of as many new rows as were deleted: the index's size against
#     a fresh index over the same rows.
set -uo pipefail
rows=${1:-100000}
dims=${2:-768}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/bench-vacuum.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

sql() { psql -X -At -v ON_ERROR_STOP=1 -c "$1"; }
# ms of the last statement, run in a new connection after the SET lines
timed() {
    psql -X -At -v ON_ERROR_STOP=1 -c '\timing on' ${2:+-c "$2"} -c "$1" 2>&1 |
        awk '/^Time:/ { t = $2 } END { print t }'
}
size() { sql "SELECT pg_relation_size('$1')"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
query="SELECT id FROM bv_items ORDER BY embedding <=> (SELECT embedding FROM bv_items WHERE id = 5) LIMIT 10"

deleted=$((rows - rows / 5))
python3 "$root/test/gen_vectors.py" "$rows" "$dims" "$work/first.bin" 16 &&
    python3 "$root/test/gen_vectors.py" "$deleted" "$dims" "$work/second.bin" 17 &&
    chmod 644 "$work"/*.bin || exit 1
psql -X -q -v ON_ERROR_STOP=1 <<SQL || exit 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hybridsearch;
DROP TABLE IF EXISTS bv_items, bv_new;
CREATE TABLE bv_items (id int PRIMARY KEY, embedding vector($dims));
ALTER TABLE bv_items ALTER embedding SET STORAGE PLAIN;
COPY bv_items FROM '$work/first.bin' WITH (FORMAT binary);
CREATE INDEX bv_items_idx ON bv_items USING hybrid (embedding vector_cosine_ops);
CREATE TABLE bv_new (id int, embedding vector($dims));
COPY bv_new FROM '$work/second.bin' WITH (FORMAT binary);
VACUUM ANALYZE bv_items;
SQL
built=$(size bv_items_idx)
sql "$query" >/dev/null
sql "DELETE FROM bv_items WHERE id % 5 <> 0" >/dev/null
report=$(psql -X -At -v ON_ERROR_STOP=1 -c '\timing on' -c 'SET client_min_messages = debug2' \
    -c 'VACUUM bv_items' 2>&1)
vacuum_ms=$(echo "$report" | awk '/^Time:/ { t = $2 } END { print t }')
# "compaction moved N entries and freed M pages in T ms, holding the
# index's lock for at most L ms at a time"
read -r moved freed compact_ms lock_ms < <(echo "$report" |
    sed -n 's/.*compaction moved \([0-9]*\) entries and freed \([0-9]*\) pages in \([0-9]*\) ms.* at most \([0-9]*\) ms.*/\1 \2 \3 \4/p' | head -1)
vacuumed=$(size bv_items_idx)
first_ms=$(timed "$query")
warm_ms=$(for i in $(seq 1 11); do timed "$query"; done | sort -n | sed -n 6p)
sql "INSERT INTO bv_items SELECT id + $rows, embedding FROM bv_new" >/dev/null
churned=$(size bv_items_idx)
sql "CREATE INDEX bv_fresh_idx ON bv_items USING hybrid (embedding vector_cosine_ops)" >/dev/null
fresh=$(size bv_fresh_idx)
sql "DROP TABLE bv_items, bv_new" >/dev/null

echo "| $rows x $dims | |"
echo "|---|--:|"
echo "| index size when built (MB) | $(mb "$built") |"
echo "| VACUUM after DELETE of $deleted rows (ms) | $vacuum_ms |"
echo "| of which compaction (ms) | ${compact_ms:-none} |"
echo "| longest hold of the index's lock (ms) | ${lock_ms:-none} |"
echo "| entries moved, pages freed | ${moved:-0}, ${freed:-0} |"
echo "| index size after the VACUUM (MB) | $(mb "$vacuumed") |"
echo "| first scan after it, loads the copy again (ms) | $first_ms |"
echo "| warm scan (median of 11, ms) | $warm_ms |"
echo "| index size after INSERT of $deleted new rows (MB) | $(mb "$churned") |"
echo "| fresh index over the same rows (MB) | $(mb "$fresh") |"
echo "| ratio | $(awk -v a="$churned" -v b="$fresh" 'BEGIN { printf "%.3f", a / b }') |"
