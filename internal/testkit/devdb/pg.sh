#!/usr/bin/env bash
# pg.sh — find or start the PostgreSQL that `make run` and `make test` use.
#
#   pg.sh url [DBNAME]   print a DATABASE_URL for DBNAME (created if missing)
#   pg.sh stop           stop the private cluster, if this script started one
#   pg.sh replica        start (or find) a private primary and its streaming replica
#                        (pg_basebackup -R) in $CIVICPAY_PGREPLICA (default
#                        <repo>/.pgdata-replica, git-ignored), for the read-replica
#                        tests; print the primary's admin URL, then the replica's
#   pg.sh replica-stop   stop both
#   pg.sh scale [NAME=VALUE ...]
#                        start, or restart with these server settings, the private
#                        cluster the scale bench (cmd/benchscale) seeds its year in:
#                        $CIVICPAY_PGSCALE (default <repo>/.pgdata-scale, git-ignored);
#                        print its admin URL
#   pg.sh scale-stop     stop it
#
# Order of preference:
#   1. $DATABASE_URL when set (DBNAME is ignored: it is used as given);
#   2. a server answering on $CIVICPAY_PG_PROBE (default 127.0.0.1:5432) that lets user
#      postgres in without a password (a stock Debian cluster, scram-sha-256, does not);
#   3. a private cluster in $CIVICPAY_PGDATA (default <repo>/.pgdata, git-ignored) on a
#      free port, after `apt-get install postgresql` if no PostgreSQL binaries exist.
# Progress goes to stderr; only the URL goes to stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
pgdata=${CIVICPAY_PGDATA:-$repo/.pgdata}
probe=${CIVICPAY_PG_PROBE:-127.0.0.1:5432}
cmd=${1:-url}
dbname=${2:-civicpay}

log() { echo "pg.sh: $*" >&2; }

answers() { # host port
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$1" -p "$2" -t 2 >/dev/null 2>&1
  else
    (exec 3<>"/dev/tcp/$1/$2") >/dev/null 2>&1
  fi
}

psql_bin() {
  if command -v psql >/dev/null 2>&1; then echo psql; return; fi
  local bin; bin=$(pgbin) || { install_postgres; bin=$(pgbin); } || return 1
  echo "$bin/psql"
}

admin_url() { echo "postgres://postgres@$1:$2/postgres?sslmode=disable"; } # host port

logs_in() { # host port: user postgres gets in without a password (never prompts)
  local psql err; psql=$(psql_bin) || return 1
  if err=$(PGCONNECT_TIMEOUT=10 "$psql" -w "$(admin_url "$1" "$2")" -qtAc 'SELECT 1' 2>&1 >/dev/null); then
    return 0
  fi
  log "$1:$2 answers but user postgres cannot log in without a password: ${err:-psql failed}"
  return 1
}

ensure_db() { # host port
  local url psql found; url=$(admin_url "$1" "$2"); psql=$(psql_bin)
  found=$("$psql" -w "$url" -tAc "SELECT 1 FROM pg_database WHERE datname = '$dbname'")
  if [ "$found" != 1 ]; then
    log "creating database $dbname"
    "$psql" "$url" -qc "CREATE DATABASE \"$dbname\"" >/dev/null 2>&1 || true # a concurrent creator may win
  fi
  echo "postgres://postgres@$1:$2/$dbname?sslmode=disable"
}

pgbin() {
  local d
  for d in $(printf '%s\n' "${CIVICPAY_PG_BINROOT:-/usr/lib/postgresql}"/*/bin | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

install_postgres() {
  log "no PostgreSQL binaries found: installing Debian's postgresql package"
  local sudo="" out started=$SECONDS
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  out=$(mktemp)
  # dpkg is chatty even with -qq: keep its output, show it only if the install fails.
  # A source that cannot be reached fails `apt-get update`; the install may still work.
  $sudo apt-get update -qq >"$out" 2>&1 || log "apt-get update reported errors; installing anyway"
  if ! $sudo apt-get install -y -qq postgresql postgresql-client >>"$out" 2>&1; then
    tail -n 40 "$out" >&2; rm -f "$out"
    log "apt-get install postgresql failed"; return 1
  fi
  rm -f "$out"
  log "installed $(CIVICPAY_PG_BINROOT=/usr/lib/postgresql pgbin || echo "nothing in /usr/lib/postgresql") in $((SECONDS - started))s"
}

as_pg() { # run a command as the cluster owner
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

listening() { # host port: anything at all accepts a TCP connection there
  (exec 3<>"/dev/tcp/$1/$2") >/dev/null 2>&1
}

free_ports() { # candidate ports: nothing listens there now (another starter may still race us)
  local p
  for p in $(seq 55432 55531); do
    listening 127.0.0.1 "$p" || echo "$p"
  done
}

start_cluster() { # bin data [options]: start on the first port that binds; print the port
  local bin=$1 data=$2 extra=${3:-} p tries=0
  for p in $(free_ports); do
    tries=$((tries + 1))
    [ "$tries" -gt 20 ] && break
    log "starting the private cluster on 127.0.0.1:$p"
    if as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-p $p -k $data -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on$extra" start >&2 9>&-; then
      # (9>&-: the server must not inherit the replica pair's lock)
      echo "$p"; return 0
    fi
    # Another process may have taken the port between the probe and the bind (two
    # starters at once, or a listener that is not PostgreSQL): say why, try the next.
    log "the cluster did not start on port $p; the end of its log:"
    tail -n 5 "$data/server.log" >&2 2>/dev/null || true
    as_pg "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  done
  log "could not start a private cluster on any port in 55432-55531"; return 1
}

own_dir() { # dir: make it, owned by the cluster owner (in /tmp behind a link if it cannot reach it)
  local dir=$1
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
    chmod 700 "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
      # The cluster owner cannot reach a folder inside this checkout (e.g. under /root):
      # keep the files in /tmp and leave a link where the repository expects them.
      local real
      real="/tmp/civicpay-pgdata-$(echo "$dir" | md5sum | cut -c1-8)"
      mkdir -p "$real"; chown postgres "$real"; chmod 700 "$real"
      rmdir "$dir" 2>/dev/null || true
      ln -sfn "$real" "$dir"
    fi
  fi
}

pg_user() { # a postgres system user for the clusters when running as root
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
}

running_port() { # data: the port a cluster this script started answers on, if it does
  [ -f "$1/civicpay.port" ] && answers 127.0.0.1 "$(cat "$1/civicpay.port")" && cat "$1/civicpay.port"
}

replica_pair() {
  local bin root primary standby pport sport fresh=0
  bin=$(pgbin) || { install_postgres; CIVICPAY_PG_BINROOT=/usr/lib/postgresql; bin=$(pgbin); }
  pg_user
  root=${CIVICPAY_PGREPLICA:-$repo/.pgdata-replica}
  mkdir -p "$root"
  exec 9>"$root/.lock"
  flock 9 # one starter at a time (test binaries run in parallel)
  own_dir "$root/primary"; own_dir "$root/standby"
  primary=$(readlink -f "$root/primary"); standby=$(readlink -f "$root/standby")
  if [ ! -f "$primary/PG_VERSION" ]; then
    log "initialising the replica pair's primary in $primary"
    as_pg "$bin/initdb" -D "$primary" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
  fi
  if ! pport=$(running_port "$primary"); then
    pport=$(start_cluster "$bin" "$primary")
    echo "$pport" | as_pg tee "$primary/civicpay.port" >/dev/null
    fresh=1 # the standby follows the primary's port: make it again
  fi
  if [ "$fresh" = 1 ] || ! sport=$(running_port "$standby"); then
    as_pg "$bin/pg_ctl" -D "$standby" -m immediate -w stop >/dev/null 2>&1 || true
    find "$standby" -mindepth 1 -delete
    log "pg_basebackup -R of 127.0.0.1:$pport into $standby"
    as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$standby" -R -X stream -c fast >&2
    rm -f "$standby/civicpay.port"
    sport=$(start_cluster "$bin" "$standby")
    echo "$sport" | as_pg tee "$standby/civicpay.port" >/dev/null
  fi
  admin_url 127.0.0.1 "$pport"
  admin_url 127.0.0.1 "$sport"
}

private_cluster() {
  local bin port
  bin=$(pgbin) || { install_postgres; CIVICPAY_PG_BINROOT=/usr/lib/postgresql; bin=$(pgbin); }
  pg_user
  own_dir "$pgdata"
  local data; data=$(readlink -f "$pgdata")
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initialising a private cluster in $data"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
  fi
  if [ -f "$data/civicpay.port" ] && answers 127.0.0.1 "$(cat "$data/civicpay.port")"; then
    port=$(cat "$data/civicpay.port")
  else
    port=$(start_cluster "$bin" "$data")
    echo "$port" | as_pg tee "$data/civicpay.port" >/dev/null
  fi
  ensure_db 127.0.0.1 "$port"
}

# scale_cluster NAME=VALUE...: the scale bench's cluster, (re)started with these
# settings on top of initdb's (with autovacuum off, as on the machine's server:
# the bench runs ANALYZE and VACUUM itself, and an autovacuum of the year in the
# middle of a measurement would measure it).
scale_cluster() {
  local bin data port opts="" kv
  bin=$(pgbin) || { install_postgres; CIVICPAY_PG_BINROOT=/usr/lib/postgresql; bin=$(pgbin); }
  pg_user
  own_dir "${CIVICPAY_PGSCALE:-$repo/.pgdata-scale}"
  data=$(readlink -f "${CIVICPAY_PGSCALE:-$repo/.pgdata-scale}")
  for kv in autovacuum=off "$@"; do
    case "$kv" in
      *=*) ;;
      *) log "scale: setting $kv is not NAME=VALUE"; return 2 ;;
    esac
    opts="$opts -c $kv"
  done
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initialising the scale bench's cluster in $data"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if [ -f "$data/postmaster.pid" ]; then
    as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t 300 stop >&2 || true
  fi
  rm -f "$data/civicpay.port"
  port=$(start_cluster "$bin" "$data" "$opts")
  echo "$port" | as_pg tee "$data/civicpay.port" >/dev/null
  log "scale cluster on 127.0.0.1:$port with$opts"
  admin_url 127.0.0.1 "$port"
}

case "$cmd" in
  url)
    if [ -n "${DATABASE_URL:-}" ]; then
      echo "$DATABASE_URL"
    elif answers "${probe%:*}" "${probe##*:}"; then
      if logs_in "${probe%:*}" "${probe##*:}"; then
        ensure_db "${probe%:*}" "${probe##*:}"
      else
        log "using a private cluster instead"
        private_cluster
      fi
    else
      log "nothing answers on $probe"
      private_cluster
    fi
    ;;
  stop)
    data=$(readlink -f "$pgdata")
    if [ -f "$data/PG_VERSION" ]; then
      bin=$(pgbin)
      as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >&2 || true
      rm -f "$data/civicpay.port"
    fi
    ;;
  replica) replica_pair ;;
  scale) shift; scale_cluster "$@" ;;
  scale-stop)
    data=$(readlink -f "${CIVICPAY_PGSCALE:-$repo/.pgdata-scale}" 2>/dev/null) || exit 0
    bin=$(pgbin) || exit 0
    [ -f "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t 300 stop >&2 || true
    rm -f "$data/civicpay.port"
    ;;
  replica-stop)
    root=${CIVICPAY_PGREPLICA:-$repo/.pgdata-replica}
    bin=$(pgbin) || exit 0
    for d in standby primary; do
      data=$(readlink -f "$root/$d" 2>/dev/null) || continue
      [ -f "$data/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >&2 || true
      rm -f "$data/civicpay.port"
    done
    ;;
  *) echo "usage: pg.sh url [DBNAME] | stop | replica | replica-stop | scale [NAME=VALUE ...] | scale-stop" >&2; exit 2 ;;
esac
