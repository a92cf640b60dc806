#!/usr/bin/env bash
# GPU stress: the load under which the GPU worker died of SIGSEGV on the H100
# (issue 14), in bounded time.  Run by test/gpu/run-all.sh (part "stress")
# against its running server, as root; usable on any server with the
# library preloaded (without a GPU every scan falls back, which still
# exercises everything but the kernels):
#
#   test/gpu/stress.sh [SECONDS] [ROWS] [DIMS]        # default 300 100000 256
#
# For SECONDS, at once: CLIENTS pgbench clients (default 48) searching three
# indexes with hybridsearch.device = gpu; hybridsearch.gpu_parts_per_device
# cycled 1 -> 2 -> 3 -> 1 with reloads every 15 s (each a new CUDA host);
# small indexes created, searched and dropped under a gpu_memory_limit that
# holds the three searched indexes and about two small ones, so copies are
# evicted; a loop of binary COPYs of
# ROWS rows; parallel sequential scans with 8 workers; updates, deletes and
# VACUUM; a session whose searches are cancelled mid-wait by
# statement_timeout (1 to 20 ms).  Meanwhile a watcher reads the CUDA
# host's GOT slot of time() through /proc/PID/mem (the crash jumped through
# that slot after it had gone back to its unrelocated value) and logs any
# change.  Core files are enabled (the server is restarted under
# ulimit -c unlimited) and copied to $OUT/cores with gdb backtraces.
#
# Environment: CLIENTS; STRESS_PGDATA (/tmp/pgdata), STRESS_PGUSER (pg),
# STRESS_LOG (/tmp/pg.log): the server to restart and its log; OUT
# (/tmp/gpu-out); STRESS_GDB=1 attaches gdb (cuda-gdb when present) to
# every CUDA host and saves its backtraces when it stops on a signal;
# STRESS_SANITIZE=1 runs kernel_check's compute-sanitizer group afterwards.
#
# Prints one summary line and exits non-zero on a worker death, a server
# restart or an inexact answer:
#   stress: 0 worker deaths, 0 server restarts, 0 host deaths (12 planned host restarts), 0 GOT changes, 0 core files, 200/200 exact, 91234 searches (88012 on the GPU)
set -uo pipefail
seconds=${1:-300}
rows=${2:-100000}
dims=${3:-256}
clients=${CLIENTS:-48}
pgdata=${STRESS_PGDATA:-/tmp/pgdata}
pguser=${STRESS_PGUSER:-pg}
log=${STRESS_LOG:-/tmp/pg.log}
out=${OUT:-/tmp/gpu-out}
root=$(cd "$(dirname "$0")/../.." && pwd)
module=${STRESS_MODULE:-$root/cuda/libhybridsearch_cuda.so}
work=$(mktemp -d /tmp/stress.XXXXXX)
chmod 755 "$work"
mkdir -p "$out/cores" /tmp/cores && chmod 1777 /tmp/cores
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
say() { echo "stress: $*" >&2; }
sql() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
[ "$seconds" -le 420 ] || { say "at most 420 seconds, so a run stays under 8 minutes"; exit 2; }

# -- cores on, then a fresh server (and log) under that limit
ulimit -c unlimited
echo '/tmp/cores/core.%e.%p' >/proc/sys/kernel/core_pattern 2>/dev/null ||
    say "core_pattern not writable; it is: $(cat /proc/sys/kernel/core_pattern)"
bindir=$(dirname "$(command -v psql)")
psql -X -q -c "ALTER SYSTEM SET max_worker_processes = 24" || { say "no server to connect to"; exit 2; }
runuser -u "$pguser" -- env LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}" \
    "$bindir/pg_ctl" -D "$pgdata" -l "$log" -w restart >/dev/null || { say "could not restart the server"; exit 2; }
offset=$(stat -c %s "$log")
for _ in $(seq 1 300); do
    [ "$(psql -X -At -c "SELECT worker_pid IS NOT NULL AND status NOT LIKE '%opening%' FROM hybridsearch_gpu_status()" 2>/dev/null)" = t ] && break
    sleep 0.2
done
psql -X -At -c "SELECT * FROM hybridsearch_gpu_status()" | tee "$out/stress-status-before.txt" >&2

# -- data: ROWS rows, three indexes, 1000 queries
python3 "$root/test/gen_vectors.py" "$rows" "$dims" "$work/vectors.bin" 3 && chmod 644 "$work/vectors.bin" || exit 2
sql <<SQL || exit 2
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS hybridsearch;
DROP TABLE IF EXISTS stress_items, stress_queries, stress_copy;
CREATE TABLE stress_items (id int PRIMARY KEY, embedding vector($dims));
ALTER TABLE stress_items ALTER embedding SET STORAGE PLAIN;
COPY stress_items FROM '$work/vectors.bin' WITH (FORMAT binary);
CREATE INDEX stress_cosine ON stress_items USING hybrid (embedding vector_cosine_ops);
CREATE INDEX stress_l2_half ON stress_items USING hybrid (embedding vector_l2_ops) WITH (precision = half);
CREATE INDEX stress_ip ON stress_items USING hybrid (embedding vector_ip_ops);
SELECT setseed(0.3) \g /dev/null
CREATE TABLE stress_queries AS
SELECT q, (SELECT array_agg(random()::real - 0.5) FROM generate_series(1, $dims) WHERE q > 0)::vector AS embedding
FROM generate_series(1, 1000) q;
CREATE UNLOGGED TABLE stress_copy (id int, embedding vector($dims));
VACUUM ANALYZE stress_items, stress_queries;
ALTER SYSTEM SET hybridsearch.device = 'gpu';
ALTER SYSTEM SET hybridsearch.gpu_min_rows = 0;
ALTER SYSTEM SET max_parallel_workers_per_gather = 8;
ALTER SYSTEM SET max_parallel_workers = 16;
-- about two of the churned indexes (20000 x DIMS fp32) per GPU
ALTER SYSTEM SET hybridsearch.gpu_memory_limit = '$(( ((3 * rows + 20000 * 5 / 2) * dims * 4 + 1048575) / 1048576 ))MB';
SELECT pg_reload_conf();
SQL

deadline=$(( $(date +%s) + seconds ))
alive() { [ "$(date +%s)" -lt "$deadline" ]; }

# -- the searching clients
cat >"$work/knn.sql" <<'SQL'
\set q random(1, 1000)
\set op random(1, 3)
SELECT id FROM stress_items ORDER BY embedding <=> (SELECT embedding FROM stress_queries WHERE q = :q) LIMIT 10;
SELECT id FROM stress_items ORDER BY embedding <-> (SELECT embedding FROM stress_queries WHERE q = :q) LIMIT 20;
SELECT id FROM stress_items ORDER BY embedding <#> (SELECT embedding FROM stress_queries WHERE q = :q) LIMIT 5;
SQL
pgbench -n -c "$clients" -j "$(nproc)" -T "$seconds" -f "$work/knn.sql" >"$out/stress-pgbench.txt" 2>&1 &
pids+=($!)

# -- part counts cycled under load: each change starts a new CUDA host
( parts=(2 3 1); i=0
  while alive; do
      sleep 15
      psql -X -q -c "ALTER SYSTEM SET hybridsearch.gpu_parts_per_device = ${parts[i % 3]}" \
          -c "SELECT pg_reload_conf()" >/dev/null 2>&1
      i=$((i + 1))
  done ) &
pids+=($!)

# -- small indexes created, searched and dropped: eviction under the limit
( n=0
  while alive; do
      n=$((n + 1)); t="stress_churn_$((n % 4))"
      psql -X -q 2>/dev/null <<SQL
DROP TABLE IF EXISTS $t;
CREATE TABLE $t AS SELECT id, embedding FROM stress_items WHERE id % 5 = $((n % 5));
CREATE INDEX ON $t USING hybrid (embedding vector_l2_ops);
SELECT id FROM $t ORDER BY embedding <-> (SELECT embedding FROM stress_queries WHERE q = $((n % 1000 + 1))) LIMIT 10 \g /dev/null
SQL
  done ) >/dev/null &
pids+=($!)

# -- heavy COPY, parallel sequential scans, updates (fresh random vectors:
#    copies of other rows would tie, and ties may come in either order), deletes and VACUUM
( while alive; do
      psql -X -q -c "TRUNCATE stress_copy" -c "COPY stress_copy FROM '$work/vectors.bin' WITH (FORMAT binary)" >/dev/null 2>&1
  done ) &
pids+=($!)
( while alive; do
      psql -X -q -At >/dev/null 2>&1 <<'SQL'
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 8; SET enable_indexscan = off;
SELECT id FROM stress_items ORDER BY embedding <=> (SELECT embedding FROM stress_queries WHERE q = 7) LIMIT 10;
SELECT count(*), avg(embedding) FROM stress_copy;
SQL
  done ) &
pids+=($!)
( n=0
  while alive; do
      n=$((n + 1))
      psql -X -q >/dev/null 2>&1 <<SQL
UPDATE stress_items
SET embedding = (SELECT array_agg(random()::real - 0.5) FROM generate_series(1, $dims) WHERE id > 0)::vector
WHERE id IN (SELECT (random() * $rows)::int + 1 FROM generate_series(1, 50));
DELETE FROM stress_items WHERE id IN (SELECT (random() * $rows)::int + 1 FROM generate_series(1, 20));
VACUUM stress_items;
SQL
      sleep 5
  done ) &
pids+=($!)

# -- searches cancelled mid-wait
( while alive; do
      for i in $(seq 1 200); do
          echo "SET statement_timeout = '$(( i % 20 + 1 ))ms';"
          echo "SELECT id FROM stress_items ORDER BY embedding <=> (SELECT embedding FROM stress_queries WHERE q = $i) LIMIT 100;"
      done | psql -X -q >/dev/null 2>&1
  done ) &
pids+=($!)

# -- the CUDA host's GOT slot of time(), and gdb on every new host
python3 - "$module" "$deadline" "$out/stress-got-watch.log" <<'PY' &
import os, subprocess, sys, time
module, deadline, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
slot = None
for line in subprocess.run(["readelf", "-rW", module], capture_output=True, text=True).stdout.splitlines():
    f = line.split()
    if len(f) > 4 and f[2] == "R_X86_64_JUMP_SLOT" and f[4].startswith("time@"):
        slot = int(f[0], 16)
log = open(path, "w", buffering=1)
log.write(f"watching the GOT slot of time() at module offset {slot:#x}\n" if slot else "no GOT slot of time() found\n")
def hosts():
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"hybridsearch GPU worker" in f.read():
                    with open(f"/proc/{pid}/stat") as s:
                        found[int(pid)] = int(s.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            pass
    return [p for p, parent in found.items() if parent in found]
seen = {}
while slot and time.time() < deadline:
    for pid in hosts():
        try:
            base = None
            with open(f"/proc/{pid}/maps") as m:
                for line in m:
                    f = line.split()
                    if len(f) > 5 and f[5].endswith("libhybridsearch_cuda.so") and int(f[2], 16) == 0:
                        base = int(f[0].split("-")[0], 16)
                        break
            if base is None:
                continue
            with open(f"/proc/{pid}/mem", "rb") as mem:
                mem.seek(base + slot)
                value = int.from_bytes(mem.read(8), "little")
        except OSError:
            continue
        if pid not in seen:
            log.write(f"{time.strftime('%T')} host {pid}: module at {base:#x}, time@GOT = {value:#x}\n")
            if os.environ.get("STRESS_GDB") == "1":
                gdb = subprocess.run(["bash", "-c", "command -v cuda-gdb || command -v gdb"],
                                     capture_output=True, text=True).stdout.strip()
                if gdb:
                    subprocess.Popen(["timeout", str(max(1, deadline - int(time.time()) + 30)), gdb, "-q",
                                      "-p", str(pid), "-batch", "-ex", "set pagination off",
                                      "-ex", "handle SIGPIPE SIGUSR1 SIGUSR2 SIGURG nostop noprint",
                                      "-ex", "continue", "-ex", "info registers rip",
                                      "-ex", "thread apply all bt", "-ex", "info sharedlibrary"],
                                     stdout=open(os.path.join(os.path.dirname(path), f"stress-gdb-{pid}.txt"), "w"),
                                     stderr=subprocess.STDOUT)
        elif seen[pid] != value:
            log.write(f"{time.strftime('%T')} GOT CHANGED host {pid}: time@GOT {seen[pid]:#x} -> {value:#x}\n")
            with open(f"/proc/{pid}/smaps") as s:
                log.write(s.read())
        seen[pid] = value
    time.sleep(1)
PY
pids+=($!)

wait "${pids[0]}"
sleep $(( deadline - $(date +%s) > 0 ? deadline - $(date +%s) : 0 ))
kill "${pids[@]}" 2>/dev/null
wait 2>/dev/null
pids=()

# -- exactness: 100 cosine and 100 half-precision L2 queries, index against sequential scan
for _ in $(seq 1 300); do
    [ "$(psql -X -At -c "SELECT worker_pid IS NOT NULL FROM hybridsearch_gpu_status()" 2>/dev/null)" = t ] && break
    sleep 0.2
done
# answers TABLE OPERATOR OP: the top 10 of queries 1 to 100, as "id:distance" lists
answers() {
    echo "INSERT INTO $1 SELECT q, $3, (SELECT array_agg(id::text || ':' || d::text) FROM (
        SELECT id, embedding $2 s.embedding AS d FROM stress_items ORDER BY embedding $2 s.embedding LIMIT 10) x)
        FROM stress_queries s WHERE q <= 100;"
}
exact=$(psql -X -q -At -v ON_ERROR_STOP=1 2>"$out/stress-exact.err" <<SQL
BEGIN ISOLATION LEVEL REPEATABLE READ;
SET extra_float_digits = 3;
CREATE TEMP TABLE by_index (q int, op int, answer text[]);
CREATE TEMP TABLE by_seq (LIKE by_index);
SET enable_seqscan = off;
$(answers by_index '<=>' 1)
$(answers by_index '<->' 2)
SET enable_seqscan = on; SET enable_indexscan = off; SET enable_bitmapscan = off;
$(answers by_seq '<=>' 1)
$(answers by_seq '<->' 2)
SELECT count(*) FILTER (WHERE i.answer = s.answer) || '/' || count(*) FROM by_index i JOIN by_seq s USING (q, op);
COMMIT;
SQL
)
[ -n "$exact" ] || exact="0/200"
searches=$(psql -X -At -c "SELECT sum(cpu_scans + gpu_scans) || ' searches (' || sum(gpu_scans) || ' on the GPU)' FROM hybridsearch_stats WHERE \"table\" = 'stress_items'::regclass")
psql -X -At -c "SELECT * FROM hybridsearch_gpu_status()" >"$out/stress-status-after.txt"

# -- what the log says
tail -c +"$((offset + 1))" "$log" >"$out/stress-server.log"
count() { grep -c -E "$1" "$out/stress-server.log"; }
worker_deaths=$(count 'background worker "hybridsearch GPU worker" \(PID [0-9]+\) (was terminated|exited)')
restarts=$(count 'all server processes terminated; reinitializing|terminating any other active server processes')
host_deaths=$(count 'the CUDA host process \(pid [0-9]+\) (was terminated|exited|did not answer)')
planned=$(count 'restarting the CUDA host process after')
got_changes=$(grep -c 'GOT CHANGED' "$out/stress-got-watch.log" 2>/dev/null)
grep -h -E 'WARNING|FATAL|PANIC' "$out/stress-server.log" | sed -E 's/^[^]]*\] //; s/[0-9]+/N/g' |
    sort | uniq -c | sort -rn | head -30 >"$out/stress-warnings.txt"
grep -E 'round trip' "$out/stress-server.log" | tail -3 >&2

# -- core files, with a backtrace each
cores=0
for core in /tmp/cores/core.* "$pgdata"/core*; do
    [ -f "$core" ] || continue
    cores=$((cores + 1))
    gdb -q -batch -ex 'info registers rip' -ex 'thread apply all bt 30' -ex 'info sharedlibrary' \
        "$bindir/postgres" "$core" >"$out/cores/$(basename "$core").bt.txt" 2>&1
    xz -T0 -1 -c "$core" >"$out/cores/$(basename "$core").xz" && rm -f "$core"
done

if [ "${STRESS_SANITIZE:-0}" = 1 ] && command -v compute-sanitizer >/dev/null; then
    make -s -C "$root/cuda" ../test/gpu/kernel_check >/dev/null &&
        timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 "$root/test/gpu/kernel_check" \
            --lib "$module" --groups S >"$out/stress-sanitizer.log" 2>&1
    say "compute-sanitizer on kernel_check group S: exit $? ($(grep -c 'Invalid' "$out/stress-sanitizer.log") invalid accesses)"
fi

echo "stress: $worker_deaths worker deaths, $restarts server restarts, $host_deaths host deaths ($planned planned host restarts), $got_changes GOT changes, $cores core files, $exact exact, $searches" |
    tee "$out/stress-summary.txt"
[ "$worker_deaths" = 0 ] && [ "$restarts" = 0 ] && [ "${exact%%/*}" = "${exact##*/}" ]
