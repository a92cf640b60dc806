#!/usr/bin/env bash
# The main job: build and install hybridsearch, start a throw-away
# PostgreSQL (data in .demo/, kept for the next run), load vectors and answer
# nearest-neighbour queries, printing results and timings.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

"$root/test/install-deps"
echo "== building and installing hybridsearch"
make -C "$root" -s >/dev/null
$sudo make -C "$root" -s install >/dev/null

bindir=$(pg_config --bindir)
demo="$root/.demo"
port=${HYBRIDSEARCH_DEMO_PORT:-54329}
owner=$(id -un)
[ "$(id -u)" -eq 0 ] && owner=postgres
as_owner() { if [ "$(id -un)" = "$owner" ]; then "$@"; else runuser -u "$owner" -- "$@"; fi; }

mkdir -p "$demo"
chown "$owner" "$demo" 2>/dev/null || true
if [ ! -f "$demo/pgdata/PG_VERSION" ]; then
    echo "== creating a throw-away cluster in $demo/pgdata"
    as_owner "$bindir/initdb" -D "$demo/pgdata" -U postgres --auth=trust >/dev/null
fi
echo "== starting PostgreSQL on port $port"
as_owner "$bindir/pg_ctl" -D "$demo/pgdata" -l "$demo/server.log" -w \
    -o "-p $port -k /tmp -c listen_addresses='' -c shared_preload_libraries=hybridsearch" start >/dev/null
trap 'as_owner "$bindir/pg_ctl" -D "$demo/pgdata" -m fast -w stop >/dev/null' EXIT

psql_demo() { as_owner psql -h /tmp -p "$port" -U postgres -v ON_ERROR_STOP=1 -X "$@"; }
psql_demo -d postgres -f "$root/test/demo.sql"
