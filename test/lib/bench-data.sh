# Sourced by the benchmark scripts that query random vectors
# (test/bench-batch.sh, test/bench-shared-copy.sh, test/gpu/bench-clients.sh,
# test/gpu/bench-floor.sh, test/gpu/bench-large.sh): their data, made one way.
#
#   bench_vectors ROWS DIMS FILE SEED
#       writes ROWS random DIMS-dimensional vectors as test/gen_vectors.py's
#       binary COPY file, readable by the server
#   bench_tables_sql PREFIX DIMS FILE QUERIES QUERY_SEED
#       prints SQL that creates PREFIX_items (id int primary key, embedding
#       vector(DIMS) stored PLAIN) from FILE and PREFIX_queries (as
#       bench_queries_sql), dropping older ones, then vacuums and analyzes
#       both
#   bench_queries_sql PREFIX DIMS QUERIES QUERY_SEED
#       prints SQL that creates PREFIX_queries (q from 1 to QUERIES, primary
#       key; embedding uniform in [-0.5, 0.5) from
#       setseed(QUERY_SEED)), dropping an older one, then vacuums and
#       analyzes it
bench_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

bench_vectors() {
    local python=/opt/hybridsearch-test-venv/bin/python
    [ -x "$python" ] || python=python3
    "$python" "$bench_lib/../gen_vectors.py" "$1" "$2" "$3" "$4" && chmod 644 "$3"
}

bench_tables_sql() {
    local prefix=$1 dims=$2 file=$3 queries=$4 seed=$5
    cat <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hybridsearch;
DROP TABLE IF EXISTS ${prefix}_items;
CREATE TABLE ${prefix}_items (id int PRIMARY KEY, embedding vector($dims));
ALTER TABLE ${prefix}_items ALTER embedding SET STORAGE PLAIN;
COPY ${prefix}_items FROM '$file' WITH (FORMAT binary);
VACUUM ANALYZE ${prefix}_items;
SQL
    bench_queries_sql "$prefix" "$dims" "$queries" "$seed"
}

bench_queries_sql() {
    local prefix=$1 dims=$2 queries=$3 seed=$4
    cat <<SQL
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hybridsearch;
DROP TABLE IF EXISTS ${prefix}_queries;
SELECT setseed($seed) \g /dev/null
CREATE TABLE ${prefix}_queries AS
SELECT q, (SELECT array_agg(random()::real - 0.5) FROM generate_series(1, $dims) WHERE q > 0)::vector AS embedding
FROM generate_series(1, $queries) q;
ALTER TABLE ${prefix}_queries ADD PRIMARY KEY (q);
VACUUM ANALYZE ${prefix}_queries;
SQL
}
