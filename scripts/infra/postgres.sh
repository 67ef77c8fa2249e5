#!/usr/bin/env bash
# Local PostgreSQL 15 (Debian's binaries) for development and tests, listening on 127.0.0.1 only.
#
#   scripts/infra/postgres.sh init     create the cluster once (initdb)
#   scripts/infra/postgres.sh start    reuse a server already answering on 127.0.0.1:$PGPORT, else
#                                      init if needed, start it, and create database "cityloop"
#   scripts/infra/postgres.sh stop     stop the server of this checkout (pg_ctl stop -m fast)
#   scripts/infra/postgres.sh status   exit 0 if a server answers on 127.0.0.1:$PGPORT, 3 if not
#   scripts/infra/postgres.sh wait     wait (PG_WAIT_TIMEOUT s, default 60) until it answers
#   scripts/infra/postgres.sh destroy  stop it and delete the cluster, wherever it lives (make clean, the
#                                      chaos harness's own cluster)
#
# Connect with: postgresql://cityloop_owner@127.0.0.1:55432/cityloop (no password: see "trust" below).
# cityloop_owner (no superuser, CREATEDB nor CREATEROLE) owns the database and its schemas and runs the
# migrations; the services connect as cityloop_<service> (ensure_roles). The superuser `cityloop` is used
# only here, to create the cluster, the database and the roles.
#
# Environment (defaults in brackets):
#   CITYLOOP_HOME [<repo>/.local]   data in $CITYLOOP_HOME/pg/data, log $CITYLOOP_HOME/pg/postgres.log
#   PGPORT [55432]
#   CITYLOOP_PG_USER                OS user that runs the server. PostgreSQL refuses to run as root, so as
#                                   root: [postgres] if that user exists, else a "cityloop" system user
#                                   (created with useradd); not as root: [yourself]
#   CITYLOOP_PG_FAST [0]            1: fsync, synchronous_commit and full_page_writes off (test runs only:
#                                   a crash can corrupt the cluster). Applied at the next start.
#   PG_BINDIR [/usr/lib/postgresql/15/bin]   PG_WAIT_TIMEOUT [60]
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../.." && pwd)"

CITYLOOP_HOME="${CITYLOOP_HOME:-$repo_root/.local}"
PGPORT="${PGPORT:-55432}"
CITYLOOP_PG_FAST="${CITYLOOP_PG_FAST:-0}"
PG_BINDIR="${PG_BINDIR:-/usr/lib/postgresql/15/bin}"
PG_WAIT_TIMEOUT="${PG_WAIT_TIMEOUT:-60}"

host=127.0.0.1
db_user=cityloop   # the database superuser initdb creates (-U); unrelated to the OS user
db_name=cityloop

say() { printf 'postgres: %s\n' "$*"; }
die() { printf 'postgres: ERROR: %s\n' "$*" >&2; exit 1; }

[[ -x $PG_BINDIR/postgres ]] || die "no PostgreSQL binaries in $PG_BINDIR (apt-get install postgresql-15)"

# --- who runs the server ------------------------------------------------------------------------
if [[ $EUID -eq 0 ]]; then
    if [[ -z ${CITYLOOP_PG_USER:-} ]]; then
        if id -u postgres >/dev/null 2>&1; then
            CITYLOOP_PG_USER=postgres
        else
            CITYLOOP_PG_USER=cityloop
        fi
    fi
    [[ $CITYLOOP_PG_USER != root ]] || die "PostgreSQL cannot run as root; set CITYLOOP_PG_USER to another user"
else
    self="$(id -un)"
    if [[ -n ${CITYLOOP_PG_USER:-} && $CITYLOOP_PG_USER != "$self" ]]; then
        die "CITYLOOP_PG_USER=$CITYLOOP_PG_USER, but only root can run the server as another user (you are $self)"
    fi
    CITYLOOP_PG_USER="$self"
fi
pg_user="$CITYLOOP_PG_USER"

ensure_user() {
    id -u "$pg_user" >/dev/null 2>&1 && return 0
    [[ $EUID -eq 0 ]] || die "OS user $pg_user does not exist"
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$pg_user" \
        || die "useradd $pg_user failed"
    say "created system user $pg_user to run the server"
}

as_user() { # run a command as the server's OS user
    if [[ $EUID -eq 0 ]]; then
        runuser -u "$pg_user" -- "$@"
    else
        "$@"
    fi
}

# --- where the cluster lives --------------------------------------------------------------------
# Normally $CITYLOOP_HOME/pg. The server's user must be able to traverse every parent folder of it;
# if one is not (e.g. a clone under /root, mode 700), the cluster goes to /tmp/cityloop-pg-<hash of
# $CITYLOOP_HOME> instead, and we say so. Decided again on each call, with the same outcome.
home_hash="$(printf '%s' "$CITYLOOP_HOME" | sha256sum | cut -c1-12)"
fallback_base="/tmp/cityloop-pg-$home_hash"

resolve_base() {
    local want="$CITYLOOP_HOME/pg"
    if [[ -d $fallback_base/data && ! -d $want/data ]]; then
        base="$fallback_base"
        return 0
    fi
    mkdir -p "$want"
    [[ -f $CITYLOOP_HOME/.gitignore ]] || printf '*\n' >"$CITYLOOP_HOME/.gitignore"
    if [[ $EUID -eq 0 ]]; then
        chown "$pg_user:" "$want"
        chmod 700 "$want"
    fi
    if as_user test -w "$want" -a -x "$want" 2>/dev/null; then
        base="$want"
    else
        base="$fallback_base"
        say "note: OS user $pg_user cannot reach $want (a parent folder is not traversable); using $base"
    fi
}

set_paths() {
    resolve_base
    data_dir="$base/data"
    log_file="$base/postgres.log"
    run_dir="$base/run"
    # A Unix socket path is limited to 107 bytes; a deep checkout would exceed it.
    if (( ${#run_dir} + 20 > 100 )); then
        run_dir="/tmp/cityloop-pg-$home_hash-run"
    fi
}

prepare_dirs() {
    ensure_user
    set_paths
    if [[ $EUID -eq 0 ]]; then
        mkdir -p "$base" "$run_dir"
        chown "$pg_user:" "$base" "$run_dir"
        chmod 700 "$base" "$run_dir"
        touch "$log_file"
        chown "$pg_user:" "$log_file"
    else
        mkdir -p "$base" "$run_dir"
        chmod 700 "$base" "$run_dir"
    fi
}

pg_ready() { "$PG_BINDIR/pg_isready" -q -h "$host" -p "$PGPORT" -t 2; }

cmd_init() {
    prepare_dirs
    if [[ -f $data_dir/PG_VERSION ]]; then
        say "cluster already initialized in $data_dir"
        return 0
    fi
    init_cluster
}

init_cluster() {
    local out="$base/initdb.log"
    # --auth=trust: any local user may connect as any role without a password. Acceptable only because
    # the server listens on 127.0.0.1 (and a private socket folder) of a dev/CI machine; never use this
    # setup for anything reachable from other hosts.
    if ! as_user "$PG_BINDIR/initdb" -D "$data_dir" -U "$db_user" --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$out" 2>&1; then
        tail -n 20 "$out" >&2
        die "initdb failed (log: $out)"
    fi
    printf "include_if_exists = 'cityloop.conf'\t# settings written by scripts/infra/postgres.sh\n" \
        | as_user tee -a "$data_dir/postgresql.conf" >/dev/null
    say "initialized cluster in $data_dir (OS user $pg_user, superuser role $db_user)"
}

write_conf() {
    local tmp="$data_dir/cityloop.conf.tmp"
    {
        printf '# Written by scripts/infra/postgres.sh on every start; edits here are overwritten.\n'
        printf "listen_addresses = '%s'\n" "$host"
        printf 'port = %s\n' "$PGPORT"
        printf "unix_socket_directories = '%s'\n" "$run_dir"
        printf 'max_connections = 200\n'
        printf 'shared_buffers = 256MB\n'
        if [[ $CITYLOOP_PG_FAST == 1 ]]; then
            printf '# CITYLOOP_PG_FAST=1: for throwaway test clusters only; a crash can corrupt data.\n'
            printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n'
        fi
    } | as_user tee "$tmp" >/dev/null
    as_user mv -f "$tmp" "$data_dir/cityloop.conf"
}

psql_admin() { "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$PGPORT" -U "$db_user" "$@"; }

ensure_db() {
    local exists
    exists="$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db_name'")" \
        || die "cannot connect to $host:$PGPORT as $db_user"
    if [[ $exists != 1 ]]; then
        psql_admin -d postgres -c "CREATE DATABASE $db_name" >/dev/null
        say "created database $db_name"
    fi
    ensure_roles
}

# The migrations run as the owner of the database and its schemas, cityloop_owner; each service connects as
# its own role (libs/common/cityloop/common/db/roles.py). All of them: a login without superuser, CREATEDB
# or CREATEROLE; the owner grants each service its rights on its own schema.
owner_role=cityloop_owner
service_roles=(cityloop_intake cityloop_router cityloop_sla cityloop_feedback)

ensure_roles() {
    local role inherit
    for role in "$owner_role" "${service_roles[@]}"; do
        # The owner inherits: as the database's owner it is pg_database_owner, which owns schema public.
        inherit=NOINHERIT
        [[ $role == "$owner_role" ]] && inherit=INHERIT
        psql_admin -d postgres -c "DO \$\$ BEGIN
            CREATE ROLE $role LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE $inherit;
            EXCEPTION WHEN duplicate_object THEN ALTER ROLE $role $inherit; END \$\$" >/dev/null \
            || die "cannot create role $role"
    done
    ensure_owner
}

# The database belongs to cityloop_owner (so it may create the schemas). A database migrated before, when
# the superuser ran the migrations, hands its schemas and their objects over (extension members excepted:
# they stay the extension's).
ensure_owner() {
    local exists
    exists="$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db_name'")" || return 0
    [[ $exists == 1 ]] || return 0
    psql_admin -d postgres -c "ALTER DATABASE $db_name OWNER TO $owner_role" >/dev/null \
        || die "cannot make $owner_role the owner of database $db_name"
    psql_admin -d "$db_name" -c "DO \$\$ DECLARE r record; BEGIN
        FOR r IN SELECT n.nspname FROM pg_namespace n
                 WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT IN ('information_schema', 'public')
                   AND n.nspowner <> '$owner_role'::regrole LOOP
            EXECUTE format('ALTER SCHEMA %I OWNER TO $owner_role', r.nspname);
        END LOOP;
        FOR r IN SELECT c.oid::regclass AS rel, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
                   AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND c.relowner <> '$owner_role'::regrole
                   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                   AND d.objid = c.oid AND d.deptype IN ('e', 'a', 'i')) LOOP
            EXECUTE format('ALTER %s %s OWNER TO $owner_role',
                           CASE r.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                          WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, r.rel);
        END LOOP;
        FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
                   AND p.proowner <> '$owner_role'::regrole
                   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                   AND d.objid = p.oid AND d.deptype = 'e') LOOP
            EXECUTE format('ALTER ROUTINE %s OWNER TO $owner_role', r.fn);
        END LOOP;
    END \$\$" >/dev/null || die "cannot hand database $db_name's schemas over to $owner_role"
}

show_log() {
    printf 'postgres: log: %s (last 30 lines)\n' "$log_file" >&2
    tail -n 30 "$log_file" >&2 2>/dev/null || true
}

cmd_start() {
    if pg_ready; then
        say "postgres already running on $host:$PGPORT (reused)"
        ensure_db
        return 0
    fi
    prepare_dirs
    [[ -f $data_dir/PG_VERSION ]] || init_cluster
    write_conf
    local fast=""
    [[ $CITYLOOP_PG_FAST == 1 ]] && fast=" (CITYLOOP_PG_FAST: fsync off)"
    # -w waits until the server accepts connections. setsid: a Ctrl-C in the calling terminal or make
    # does not reach the server.
    if ! as_user setsid "$PG_BINDIR/pg_ctl" start -w -t "$PG_WAIT_TIMEOUT" -s -D "$data_dir" -l "$log_file" \
        </dev/null >/dev/null 2>&1; then
        show_log
        die "pg_ctl start failed"
    fi
    say "started PostgreSQL 15 on $host:$PGPORT as $pg_user$fast (log: $log_file)"
    ensure_db
}

cmd_stop() {
    set_paths
    if [[ ! -f $data_dir/postmaster.pid ]]; then
        if pg_ready; then
            say "not stopped: the server on $host:$PGPORT does not belong to this checkout ($data_dir)"
        else
            say "postgres not running"
        fi
        return 0
    fi
    if ! as_user "$PG_BINDIR/pg_ctl" stop -m fast -w -t 60 -s -D "$data_dir" >/dev/null 2>&1; then
        # pg_ctl fails on a stale postmaster.pid (server crashed): nothing left to stop then.
        if as_user "$PG_BINDIR/pg_ctl" status -D "$data_dir" >/dev/null 2>&1; then
            show_log
            die "pg_ctl stop failed"
        fi
        say "postgres not running (stale pid file)"
        return 0
    fi
    say "stopped postgres ($data_dir)"
}

cmd_status() {
    set_paths
    if pg_ready; then
        if [[ -f $data_dir/postmaster.pid ]]; then
            say "running on $host:$PGPORT (data $data_dir, log $log_file)"
        else
            say "running on $host:$PGPORT (not started by this checkout)"
        fi
        return 0
    fi
    say "not running on $host:$PGPORT"
    return 3
}

cmd_wait() {
    local deadline=$((SECONDS + PG_WAIT_TIMEOUT))
    until pg_ready; do
        if (( SECONDS >= deadline )); then
            set_paths
            show_log
            die "no answer on $host:$PGPORT within ${PG_WAIT_TIMEOUT}s"
        fi
        sleep 0.5
    done
    say "ready on $host:$PGPORT"
}

cmd_destroy() {
    cmd_stop
    set_paths
    # The cluster may live in the /tmp fallback (above), outside $CITYLOOP_HOME: deleting only the home
    # left it there, and the next start found and reused it (each chaos run left gigabytes behind). The
    # server's log is kept in the home, for whoever reads a failed run afterwards.
    [[ $base == "$fallback_base" && -f $log_file ]] && cp "$log_file" "$CITYLOOP_HOME/postgres.log"
    rm -rf "$CITYLOOP_HOME/pg" "$fallback_base" "/tmp/cityloop-pg-$home_hash-run"
    say "deleted the cluster ($data_dir)"
}

case "${1:-}" in
    init) cmd_init ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    wait) cmd_wait ;;
    destroy) cmd_destroy ;;
    *) printf 'usage: %s {init|start|stop|status|wait|destroy}\n' "$0" >&2; exit 2 ;;
esac
