# Sourced by the CPU benchmark scripts (test/bench-index.sh,
# test/bench-batch.sh): a throw-away cluster for one run.
#
#   bench_cluster_start PORT [SETTINGS...]
#
# creates $work (a fresh directory), runs initdb there as $user (the
# unprivileged hybridsearch_test when run as root, which it creates if
# needed; else the caller), starts the server on PORT with a socket in
# $work, shared_buffers 2GB and each -c SETTING given, and stops it and
# removes $work on exit.  as_user runs a command as $user.
as_user() { if [ "$(id -un)" = "$user" ]; then "$@"; else runuser -u "$user" -- "$@"; fi; }

bench_cluster_start() {
    local port=$1 options="" setting
    shift
    for setting in "$@"; do options+=" -c $setting"; done
    bindir=$(pg_config --bindir)
    work=$(mktemp -d /tmp/hybridsearch-bench.XXXXXX)
    chmod 755 "$work"
    user=$(id -un)
    if [ "$(id -u)" -eq 0 ]; then
        user=hybridsearch_test
        id -u "$user" >/dev/null 2>&1 || useradd --create-home "$user"
        chown "$user" "$work"
    fi
    as_user "$bindir/initdb" -D "$work/data" -U postgres --auth=trust >/dev/null
    as_user "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
        -o "-p $port -k $work -c listen_addresses='' -c shared_buffers=2GB -c max_wal_size=8GB$options" \
        start >/dev/null
    trap 'as_user "$bindir/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null; rm -rf "$work"' EXIT
}
