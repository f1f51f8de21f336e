#!/usr/bin/env bash
# Runs the Akka.Persistence benchmark (bench/dotnet) side by side: Cairn
# embedded and remote (cairnd on loopback), each on mmaplog (fsync=always) and
# on memory storage, Akka.Persistence.Sql on SQLite as shipped and in WAL mode
# and on PostgreSQL (a throwaway server from Debian's postgresql package,
# started here on a free port in a temp folder and stopped at the end),
# Akka's in-memory journal and the serialize-only reference journal. Prints
# each store's rows as they come, then every store side by side with the
# ratios the issue's targets name. Not part of scripts/test: the full matrix
# takes about 10-15 minutes. Arguments go to the program (e.g. --actors 1,100
# --runs 5 --window 1); --stores picks stores (default all nine).
#
# Each store runs in its own process, so none of them runs on code that an
# earlier store's run already compiled to its optimised tier (.NET's tiered
# JIT): every store starts equally cold and has the same warm-up.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/setup.sh"
cd "$CAIRN_ROOT"
build=${CAIRN_DOTNET_BUILD:-build/release}
case "$build" in /*) ;; *) build="$CAIRN_ROOT/$build" ;; esac
[ -f "$build/build.ninja" ] || cmake --preset release -S "$CAIRN_ROOT" >/dev/null
cmake --build "$build" --target cairn_c cairnd -j "$CAIRN_JOBS"
dotnet build bench/dotnet/CairnBench.csproj -c Release -p:CairnNativeDir="$build/lib" -v quiet -nologo
bench=(dotnet build/dotnet-bench/bin/Release/net10.0/CairnBench.dll --cairnd "$build/bin/cairnd")

stores="cairn-embedded,cairn-remote,cairn-embedded-memory,cairn-remote-memory,sql-sqlite,sql-sqlite-wal,sql-postgres,inmem,serialize-only"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --stores) stores=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

pg_dir=""
stop_postgres() {
  [ -n "$pg_dir" ] || return 0
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap stop_postgres EXIT

if [[ ",$stores," == *",sql-postgres,"* ]]; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$pg_bin" ]; then
    log "installing postgresql (Debian package) for the sql-postgres store"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  pg_dir=$(mktemp -d /tmp/cairn-bench-pg.XXXXXX)
  chown postgres: "$pg_dir"
  # initdb and postgres refuse to run as root: the postgres user runs them.
  # Durable settings (fsync, synchronous_commit, full_page_writes on) as
  # shipped; only the socket folder and the port are ours.
  runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  log "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port ($pg_dir)"
  args+=(--postgres "Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres")
fi

tsv=$(mktemp /tmp/cairn-bench-rows.XXXXXX)
trap 'stop_postgres; rm -f "$tsv"' EXIT
first=1
for store in ${stores//,/ }; do
  # The first process prints the title and table header; the others only rows.
  if [ $first -eq 1 ]; then
    "${bench[@]}" --stores "$store" --tsv "$tsv" "${args[@]}"
    first=0
  else
    "${bench[@]}" --stores "$store" --tsv "$tsv" "${args[@]}" | sed -n '/^| [a-z]/p' | grep -v '^| store |'
  fi
done
echo
echo "Side by side (median events/s, slowest-fastest run in brackets):"
echo
"${bench[@]}" --pivot "$tsv" --ratio cairn-embedded/serialize-only --ratio cairn-embedded/best-sqlite \
  --ratio cairn-remote-memory/cairn-embedded-memory --ratio cairn-remote/cairn-embedded
