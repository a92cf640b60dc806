#!/usr/bin/env bash
# The planner's choice against filter selectivity (issue 18), on a running
# server (psql's environment: PGHOST, PGPORT, PGUSER, PGDATABASE):
#
#   test/bench-planner.sh [ROWS] [DIMS] [REPS]        (default 100000 768 5)
#
# Loads ROWS random vectors (default storage) with a category of 10000
# values, a btree index on it and a hybrid cosine index, then prints
# test/bench-planner.sql's table twice: warm (the copy loaded), and cold
# (each measurement in a new connection: hybridsearch_stats shows whether
# the copy stayed loaded, as it does with the preload).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-100000}
dims=${2:-768}
reps=${3:-5}
work=$(mktemp -d /tmp/bench-planner.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
python3 "$root/test/gen_vectors.py" "$rows" "$dims" "$work/vectors.bin" 21 && chmod 644 "$work/vectors.bin"
psql -X -q -v ON_ERROR_STOP=1 <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hybridsearch;
DROP TABLE IF EXISTS pt_items, pt_queries, pt_load;
CREATE TABLE pt_load (id int, embedding vector($dims));
COPY pt_load FROM '$work/vectors.bin' WITH (FORMAT binary);
CREATE TABLE pt_items AS SELECT id, (id * 7919) % 10000 AS category, embedding FROM pt_load;
DROP TABLE pt_load;
CREATE INDEX ON pt_items (category);
CREATE INDEX pt_items_embedding_idx ON pt_items USING hybrid (embedding vector_cosine_ops);
CREATE TABLE pt_queries AS SELECT 1 AS n, embedding FROM pt_items WHERE id = 4242;
VACUUM ANALYZE pt_items;
SQL
echo "# warm: $rows x $dims, cosine top-10, median of $reps ($(date -u +%F), $(nproc) cores)"
psql -X -v reps="$reps" -f "$root/test/bench-planner.sql"

# cold: every measured query in a new connection (the copy loaded, but not
# yet mapped by that backend); median of REPS connections each
q=$(psql -X -At -c "SELECT embedding FROM pt_queries WHERE n = 1")
timed() {	# timed SETTINGS QUERY: ms of QUERY in a new connection
    psql -X -At -c '\timing on' -c "$1" -c "$2" | awk '/^Time:/ { t = $2 } END { print t }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
forced="SET enable_sort = off; SET enable_seqscan = off; SET enable_bitmapscan = off"
echo
echo "# cold: each query in a new connection, median of $reps connections"
echo "| selectivity % | chosen plan | chosen ms | hybrid ms | btree ms | chosen / best |"
echo "|--:|---|--:|--:|--:|--:|"
for c in 1 10 50 100 200 300 500 1000 3000 10000; do
    chosen_sql="SELECT id FROM pt_items WHERE category < $c ORDER BY embedding <=> '$q' LIMIT 10"
    explained=$(psql -X -At -c "EXPLAIN (COSTS OFF) $chosen_sql")
    plan=btree/seq
    [[ $explained == *pt_items_embedding_idx* ]] && plan=hybrid
    chosen=$(for _ in $(seq "$reps"); do timed "SELECT 1" "$chosen_sql"; done | median)
    hybrid=$(for _ in $(seq "$reps"); do
        timed "$forced" "SELECT id FROM pt_items WHERE category + 0 < $c ORDER BY embedding <=> '$q' LIMIT 10"; done | median)
    btree=$(for _ in $(seq "$reps"); do
        timed "SELECT 1" "SELECT id FROM pt_items WHERE category < $c ORDER BY (embedding <=> '$q') + 0 LIMIT 10"; done | median)
    awk -v c="$c" -v p="$plan" -v a="$chosen" -v h="$hybrid" -v b="$btree" \
        'BEGIN { m = (h < b) ? h : b; printf "| %.2f | %s | %.1f | %.1f | %.1f | %.2f |\n", c / 100, p, a, h, b, a / m }'
done
