#!/usr/bin/env bash
# `cairn backup --server` (the log streamed from a running cairnd over the
# protocol) against `cairn backup --data` (the same store opened in the
# process), in one run on one store (issue 17, "--server"). Builds a store
# of about MIB MiB of event data with `cairn append`, warms the page cache,
# then times, each RUNS times (the best is printed):
#   cairn --data STORE backup DEST                  (cairnd stopped)
#   cairn --server 127.0.0.1:PORT backup DEST       (cairnd serving STORE,
#                                                    plain TCP, idle)
# and prints one table row each: seconds, backup bytes written, MiB/s of
# event data, and the server's rate as a share of the local one.
#
#   bench/backup/server_vs_local.sh BUILD_BIN_DIR [MIB] [RUNS] [WORK_DIR]
set -euo pipefail
bin=${1:?usage: server_vs_local.sh BUILD_BIN_DIR [MIB] [RUNS] [WORK_DIR]}
mib=${2:-256}
runs=${3:-3}
work=${4:-$(mktemp -d "${TMPDIR:-/tmp}/cairn-server-backup-bench-XXXXXX")}
cairn=$bin/cairn
cairnd=$bin/cairnd
mkdir -p "$work"
source "$(dirname "$0")/make_store.sh"
trap bench_cleanup EXIT
store=$work/store
make_store "$cairn" "$store" "$mib"

best() {  # command...: the least seconds of $runs runs; each run's DEST is removed
  local least=""
  for _ in $(seq "$runs"); do
    rm -rf "$work/backup"
    local t0 t1 s
    t0=$(now); "$@" > /dev/null 2>&1; t1=$(now)
    s=$(elapsed "$t0" "$t1")
    least=$(awk -v a="$least" -v b="$s" 'BEGIN { print (a == "" || b < a) ? b : a }')
  done
  echo "$least"
}
row() {  # name seconds bytes share
  awk -v n="$1" -v s="$2" -v b="$3" -v m="$mib" -v p="$4" \
    'BEGIN { printf "| %-40s | %7.2f s | %8.1f MiB | %7.1f MiB/s | %s |\n",
             n, s, b / 1048576, m / s, p }'
}

local_s=$(best "$cairn" --data "$store" backup "$work/backup")
local_bytes=$(du -sb "$work/backup" | cut -f1)

start_cairnd "$cairnd" "$store" --set storage.fsync=never
server_s=$(best "$cairn" --server "127.0.0.1:$port" backup "$work/backup")
server_bytes=$(du -sb "$work/backup" | cut -f1)
share=$(awk -v l="$local_s" -v s="$server_s" 'BEGIN { printf "%.0f%% of local", 100 * l / s }')

echo "store: $events events (~$mib MiB of event data); best of $runs runs each"
echo "| what | time | backup bytes | rate of event data | |"
echo "|---|---|---|---|---|"
row "cairn --data STORE backup" "$local_s" "$local_bytes" "100%"
row "cairn --server 127.0.0.1:PORT backup" "$server_s" "$server_bytes" "$share"
