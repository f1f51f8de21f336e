# Sourced by the bench/backup scripts (which set $work first).
#
# make_store CAIRN STORE MIB builds a store of about MIB MiB of event data
# (~1 KiB events, 1000 per append batch, fsync=never) with `cairn append`,
# sets $events to their count, and warms the page cache with the store's
# files.
make_store() {
  local cairn=$1 store=$2 mib=$3
  events=$(( mib * 1024 ))
  python3 - "$events" <<'PY' | "$cairn" --data "$store" --set storage.fsync=never \
      append bench --batch-size 1000 > /dev/null
import sys
n = int(sys.argv[1])
pad = "x" * 960
for i in range(n):
    print('{"type":"OrderPlaced","data":{"order":%d,"pad":"%s"}}' % (i, pad))
PY
  cat "$store"/* > /dev/null 2>&1 || true
}

# start_cairnd CAIRND STORE [ARGS...] starts cairnd on STORE on loopback
# (ports chosen by the system, its log in $work/cairnd.log) and sets
# $server_pid and $port; bench_cleanup (for `trap ... EXIT`) stops it and
# removes $work.
server_pid=""
start_cairnd() {
  local cairnd=$1 store=$2
  shift 2
  "$cairnd" --data "$store" --port 0 --port-file "$work/port" --http-port 0 \
    --http-port-file "$work/http-port" "$@" 2> "$work/cairnd.log" &
  server_pid=$!
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
  port=$(cat "$work/port")
}
bench_cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}

# Wall-clock seconds: t0=$(now) ... elapsed "$t0" "$(now)".
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
