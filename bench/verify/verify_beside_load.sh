#!/usr/bin/env bash
# What `cairn verify --deep --server` costs a cairnd that is taking appends
# (docs/benchmarks.md, "Verify through the server beside a write load").
# Starts cairnd (fsync=never) on a fresh store in a temporary folder, fills
# it with an 8-second pipelined cairnd_bench run, times one deep verify
# through the server, then alternates three times: cairnd_bench for 5 s
# alone, and cairnd_bench for 5 s while a loop runs deep verifies through
# the server. Loopback only; every loop is bounded.
#
# usage: bench/verify/verify_beside_load.sh [BIN_DIR]   (default build/release/bin)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build/release/bin}
for b in cairnd cairn cairnd_bench; do
  [[ -x $bin/$b ]] || { echo "verify_beside_load: $bin/$b is missing; build the release preset" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/var/tmp}/verify-beside-load.XXXXXX")
server=""
cleanup() { [[ -n $server ]] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$bin/cairnd" --data "$work/data" --port 0 --port-file "$work/port" --http-port 0 \
  --http-port-file "$work/http-port" --set storage.fsync=never > "$work/cairnd.log" 2>&1 &
server=$!
for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.1; done
[[ -s $work/port ]] || { echo "verify_beside_load: cairnd did not start" >&2; exit 1; }
address=127.0.0.1:$(cat "$work/port")
port=$(cat "$work/port")
"$bin/cairnd_bench" --port "$port" --seconds 8 --round-trips 10 | grep pipelined
t0=$(date +%s.%N)
"$bin/cairn" --server "$address" verify --deep | tail -1
t1=$(date +%s.%N)
echo "one deep verify through the server, nothing else running: $(echo "$t1 - $t0" | bc) s"
for round in 1 2 3; do
  echo "round $round, alone:"
  "$bin/cairnd_bench" --port "$port" --seconds 5 --round-trips 2000 | grep -E 'pipelined|single_event_rtt +appends'
  rm -f "$work/stop" "$work/verifies"
  ( for _ in $(seq 100); do
      [[ -e $work/stop ]] && break
      "$bin/cairn" --server "$address" verify --deep > /dev/null
      echo done >> "$work/verifies"
    done ) &
  loop=$!
  sleep 0.5
  echo "round $round, beside deep verifies:"
  "$bin/cairnd_bench" --port "$port" --seconds 5 --round-trips 2000 | grep -E 'pipelined|single_event_rtt +appends'
  touch "$work/stop"
  wait "$loop"
  echo "  verifies completed meanwhile: $(wc -l < "$work/verifies")"
done
