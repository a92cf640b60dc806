#!/usr/bin/env bash
# Benchmark of the scale-out recipe (doc/scale-out.md): what the postgres_fdw
# coordinator costs against one server.  Prints markdown tables and EXPLAIN
# ANALYZE excerpts.
#
#   bash test/bench-shard.sh [ROWS] [DIMS] [QUERIES] [ROUNDS]   (default 100000 768 21 3)
#
# Starts five throw-away clusters on this machine, as an unprivileged user:
# "single" holds all ROWS in one table with a hybrid cosine index; three
# shards hold a third each (hash-partitioned by the coordinator, each with
# its own index); the coordinator has no vectors of its own: "items3" is
# partitioned over the three shards, "items1" has the single server's table
# as its one partition (the cost of the fdw hop alone).  Every form of the
# cosine top-10 is timed inside the server that receives it, ROUNDS times
# over QUERIES query vectors, and its answers are compared with the single
# server's.  All servers share this machine's cores, so the shards of one
# query compete for them.
#
# PG_CONFIG selects the PostgreSQL installation (default: pg_config on PATH);
# the extension is built and installed into it.  Vectors come from
# test/gen_vectors.py, run with the test venv's python (numpy).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-100000}
dims=${2:-768}
queries=${3:-21}
rounds=${4:-3}
PG_CONFIG=${PG_CONFIG:-pg_config}
python=${HYBRIDSEARCH_TEST_VENV:-/opt/hybridsearch-test-venv}/bin/python
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

"$root/test/install-deps"
make -C "$root" -s PG_CONFIG="$PG_CONFIG" >/dev/null
$sudo make -C "$root" -s PG_CONFIG="$PG_CONFIG" install >/dev/null

bindir=$($PG_CONFIG --bindir)
work=$(mktemp -d /tmp/hybridsearch-bench-shard.XXXXXX)
user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
    user=hybridsearch_test
    id -u "$user" >/dev/null 2>&1 || useradd --create-home "$user"
fi
chmod 755 "$work"
[ "$user" = "$(id -un)" ] || chown "$user" "$work"
as_user() { if [ "$(id -un)" = "$user" ]; then "$@"; else runuser -u "$user" -- "$@"; fi; }

# name port shared_buffers; the coordinator listens on its socket only
servers=(single:54341:1GB shard1:54342:512MB shard2:54343:512MB shard3:54344:512MB coord:54345:128MB)
stop_all() {
    for s in "${servers[@]}"; do
        IFS=: read -r name port sb <<<"$s"
        [ -f "$work/$name/postmaster.pid" ] &&
            as_user "$bindir/pg_ctl" -D "$work/$name" -m immediate -w stop >/dev/null
    done
    rm -rf "$work"
}
trap stop_all EXIT
for s in "${servers[@]}"; do
    IFS=: read -r name port sb <<<"$s"
    listen=127.0.0.1
    [ "$name" = coord ] && listen=
    as_user "$bindir/initdb" -D "$work/$name" -U postgres --auth=trust >/dev/null
    as_user "$bindir/pg_ctl" -D "$work/$name" -l "$work/$name.log" -w \
        -o "-p $port -k $work -c listen_addresses='$listen' -c shared_buffers=$sb -c max_wal_size=8GB -c jit=off -c max_parallel_workers_per_gather=0" \
        start >/dev/null
done
sql() {	# sql SERVER [psql arguments]
    local name=$1 port
    shift
    for s in "${servers[@]}"; do
        IFS=: read -r n p sb <<<"$s"
        [ "$n" = "$name" ] && port=$p
    done
    as_user psql -h "$work" -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1 "$@" postgres
}
# EXPLAIN output without the query vector's 768 numbers
elide() { sed -E "s/'\[[^]']*\]'/'[...]'/g"; }

echo "# hybridsearch scale-out benchmark: $rows x $dims, cosine top-10, $queries queries x $rounds rounds per row"
echo "# $(date -u +%Y-%m-%d) on $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, all five servers on this machine"
echo

as_user "$python" "$root/test/gen_vectors.py" "$rows" "$dims" "$work/items.copy"
t0=$(date +%s.%N)
sql single -v dims="$dims" -v file="$work/items.copy" -v queries="$queries" <<'EOF'
CREATE EXTENSION hybridsearch;
CREATE TABLE items (id int PRIMARY KEY, embedding vector(:dims));
ALTER TABLE items ALTER embedding SET STORAGE PLAIN;
COPY items FROM :'file' WITH (FORMAT binary);
CREATE INDEX ON items USING hybrid (embedding vector_cosine_ops);
VACUUM ANALYZE items;
SELECT setseed(0.42) \g /dev/null
CREATE TABLE bench_queries AS
SELECT q, (SELECT array_agg(random()::real - 0.5) FROM generate_series(1, :dims) WHERE q > 0)::vector AS embedding
FROM generate_series(1, :queries) q;
EOF
t1=$(date +%s.%N)
for i in 1 2 3; do
    sql shard$i -v dims="$dims" -v i=$i <<'EOF'
CREATE EXTENSION hybridsearch;
CREATE TABLE items_:i (id int PRIMARY KEY, embedding vector(:dims));
ALTER TABLE items_:i ALTER embedding SET STORAGE PLAIN;
EOF
done
sql coord -v dims="$dims" -v file="$work/items.copy" <<'EOF'
CREATE EXTENSION hybridsearch;
CREATE EXTENSION postgres_fdw;
CREATE SERVER single FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '54341', dbname 'postgres', extensions 'hybridsearch', async_capable 'true');
CREATE SERVER shard1 FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '54342', dbname 'postgres', extensions 'hybridsearch', async_capable 'true', batch_size '1000');
CREATE SERVER shard2 FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '54343', dbname 'postgres', extensions 'hybridsearch', async_capable 'true', batch_size '1000');
CREATE SERVER shard3 FOREIGN DATA WRAPPER postgres_fdw
	OPTIONS (host '127.0.0.1', port '54344', dbname 'postgres', extensions 'hybridsearch', async_capable 'true', batch_size '1000');
CREATE USER MAPPING FOR PUBLIC SERVER single OPTIONS (user 'postgres');
CREATE USER MAPPING FOR PUBLIC SERVER shard1 OPTIONS (user 'postgres');
CREATE USER MAPPING FOR PUBLIC SERVER shard2 OPTIONS (user 'postgres');
CREATE USER MAPPING FOR PUBLIC SERVER shard3 OPTIONS (user 'postgres');
CREATE TABLE items3 (id int, embedding vector(:dims)) PARTITION BY HASH (id);
CREATE FOREIGN TABLE items3_1 PARTITION OF items3 FOR VALUES WITH (MODULUS 3, REMAINDER 0)
	SERVER shard1 OPTIONS (table_name 'items_1');
CREATE FOREIGN TABLE items3_2 PARTITION OF items3 FOR VALUES WITH (MODULUS 3, REMAINDER 1)
	SERVER shard2 OPTIONS (table_name 'items_2');
CREATE FOREIGN TABLE items3_3 PARTITION OF items3 FOR VALUES WITH (MODULUS 3, REMAINDER 2)
	SERVER shard3 OPTIONS (table_name 'items_3');
CREATE TABLE items1 (id int, embedding vector(:dims)) PARTITION BY HASH (id);
CREATE FOREIGN TABLE items1_1 PARTITION OF items1 FOR VALUES WITH (MODULUS 1, REMAINDER 0)
	SERVER single OPTIONS (table_name 'items');
CREATE SCHEMA single;
IMPORT FOREIGN SCHEMA public LIMIT TO (bench_queries) FROM SERVER single INTO single;
CREATE TEMP TABLE staging (id int, embedding vector(:dims));
COPY staging FROM :'file' WITH (FORMAT binary);
INSERT INTO items3 SELECT * FROM staging;
EOF
t2=$(date +%s.%N)
for i in 1 2 3; do
    sql shard$i -v i=$i <<'EOF'
CREATE INDEX ON items_:i USING hybrid (embedding vector_cosine_ops);
VACUUM ANALYZE items_:i;
EOF
    sql shard$i -c "CREATE TABLE bench_queries AS SELECT * FROM (VALUES (0, NULL::vector)) v(q, embedding) WHERE false"
done
t3=$(date +%s.%N)
sql coord -c 'ANALYZE items3, items1'
for s in single shard1 coord; do sql $s -f "$root/test/bench_shard.sql"; done

# The reference answers, from the single server.  The shards get the same
# query vectors through the coordinator.
sql single <<'EOF'
CREATE TABLE bench_truth (q int, ids int[]);
INSERT INTO bench_truth
SELECT q, ARRAY(SELECT id FROM items ORDER BY embedding <=> b.embedding LIMIT 10) FROM bench_queries b;
EOF
sql coord <<'EOF'
IMPORT FOREIGN SCHEMA public LIMIT TO (bench_truth, bench_results) FROM SERVER single INTO single;
CREATE SCHEMA shard1;
IMPORT FOREIGN SCHEMA public LIMIT TO (bench_queries, bench_results) FROM SERVER shard1 INTO shard1;
INSERT INTO shard1.bench_queries SELECT * FROM single.bench_queries;
CREATE TABLE bench_queries AS SELECT * FROM single.bench_queries;
EOF

# Every configuration once per round, the rounds one after another, so that
# a change in the machine's other load spreads over all configurations.
for round in $(seq "$rounds"); do
    sql single -c "SELECT bench_run('one server, hybrid index', 'SELECT id FROM items ORDER BY embedding <=> \$1 LIMIT 10', 'bench_truth')" >/dev/null
    sql shard1 -c "SELECT bench_run('one shard alone (a third of the rows), hybrid index', 'SELECT id FROM items_1 ORDER BY embedding <=> \$1 LIMIT 10', NULL)" >/dev/null
    sql coord <<'EOF'
\set function 'SELECT id FROM hybridsearch_sharded_search(NULL::%s, ''embedding'', ''<=>'', $1, 10)'
\set parent 'SELECT id FROM %s ORDER BY embedding <=> $1 LIMIT 10'
SELECT bench_run('coordinator, 3 shards, hybridsearch_sharded_search()', format(:'function', 'items3'), 'single.bench_truth') \g /dev/null
SELECT bench_run('coordinator, 3 shards, ORDER BY on the parent', format(:'parent', 'items3'), 'single.bench_truth') \g /dev/null
ALTER SERVER shard1 OPTIONS (ADD fetch_size '10');
ALTER SERVER shard2 OPTIONS (ADD fetch_size '10');
ALTER SERVER shard3 OPTIONS (ADD fetch_size '10');
SELECT bench_run('coordinator, 3 shards, ORDER BY on the parent, fetch_size 10', format(:'parent', 'items3'), 'single.bench_truth') \g /dev/null
ALTER SERVER shard1 OPTIONS (DROP fetch_size);
ALTER SERVER shard2 OPTIONS (DROP fetch_size);
ALTER SERVER shard3 OPTIONS (DROP fetch_size);
SELECT bench_run('coordinator, 1 shard (the one server), hybridsearch_sharded_search()', format(:'function', 'items1'), 'single.bench_truth') \g /dev/null
SELECT bench_run('coordinator, 1 shard (the one server), ORDER BY on the parent', format(:'parent', 'items1'), 'single.bench_truth') \g /dev/null
EOF
done

sql coord <<'EOF'
\pset footer off
\pset format unaligned
\pset fieldsep ' | '
\pset tuples_only on
\echo '| configuration | p50 ms | p95 ms | p50 / one server | mismatching answers |'
\echo '|---|--:|--:|--:|--:|'
WITH r AS (
	SELECT 1 AS o, * FROM single.bench_results
	UNION ALL SELECT 2, * FROM shard1.bench_results
	UNION ALL SELECT 3, * FROM bench_results
), g AS (
	-- array_agg of the rounds' arrays is one two-dimensional array
	SELECT configuration, min(o) AS o, min(run) AS run, array_agg(ms) AS ms, sum(mismatches) AS mismatches
	FROM r GROUP BY configuration
)
SELECT '| ' || configuration, bench_percentile(ms, 0.5), bench_percentile(ms, 0.95),
	round(bench_percentile(ms, 0.5) / (SELECT bench_percentile(ms, 0.5) FROM g WHERE o = 1), 2),
	coalesce(mismatches::text, '-') || ' |'
FROM g ORDER BY o, run;
EOF
t4=$(date +%s.%N)
echo
echo '| step | s |'
echo '|---|--:|'
step() { awk -v what="$1" -v from="$2" -v to="$3" 'BEGIN { printf "| %s | %.1f |\n", what, to - from }'; }
step 'single server: COPY, CREATE INDEX, VACUUM ANALYZE' "$t0" "$t1"
step 'coordinator: COPY into a local table, INSERT routed to the shards (batch_size 1000)' "$t1" "$t2"
step 'shards: CREATE INDEX, VACUUM ANALYZE, one after another' "$t2" "$t3"
step 'every timed run' "$t3" "$t4"

# EXPLAIN ANALYZE, each after a warm-up in the same session; shard 1 logs
# the plans of what it is sent
sql shard1 -c "LOAD 'auto_explain'" -c "ALTER SYSTEM SET auto_explain.log_min_duration = 0" \
    -c "ALTER SYSTEM SET auto_explain.log_analyze = on" \
    -c "ALTER SYSTEM SET session_preload_libraries = 'auto_explain'" -c "SELECT pg_reload_conf()" >/dev/null
echo
echo '## EXPLAIN ANALYZE on the coordinator'
# auto_explain shows the plans, the function's inner query included; awk
# keeps those of the outer query and of that inner query, not the catalog
# look-ups before it.
explain() {	# explain TITLE QUERY: after a warm-up run in the same session
    echo "### $1"
    sql coord -At -v query="$2" 2>&1 <<'EOF' | elide | awk '
/^NOTICE:/ { if (keep) printf "%s", block; block = ""; keep = 0 }
/^Query Text: (WITH s AS MATERIALIZED|SELECT id FROM)/ { keep = 1 }
{ block = block $0 "\n" }
END { if (keep) printf "%s", block }'
SELECT embedding AS qv FROM bench_queries WHERE q = 1 \gset
SELECT format(:'query', quote_literal(:'qv')) AS q \gset
\o /dev/null
:q;
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_verbose = on;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
SET client_min_messages = notice;
:q;
EOF
}
explain 'ORDER BY on the parent, 3 shards' 'SELECT id FROM items3 ORDER BY embedding <=> %s LIMIT 10'
explain 'ORDER BY on the parent, 1 shard' 'SELECT id FROM items1 ORDER BY embedding <=> %s LIMIT 10'
explain 'hybridsearch_sharded_search(), 3 shards (the query it runs)' \
    "SELECT id FROM hybridsearch_sharded_search(NULL::items3, 'embedding', '<=>', %s, 10)"
echo
echo '## What shard 1 ran for those queries (auto_explain there)'
grep -B1 -A5 'DECLARE c' "$work/shard1.log" | elide
