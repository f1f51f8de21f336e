#!/usr/bin/env bash
# A backup of a large store through a running cairnd while a write load
# runs (issue 17, "Figures": at least 80% of the throughput of `cp` of the
# same files in the same run, while the load keeps at least 80% of its
# rate). Builds a store of about MIB MiB of event data (default 2048; ~1 KiB
# events, 1000 per batch) with `cairn append`, warms the page cache, then in
# one run:
#   1. cp -r STORE COPY + sync -f of the copy (what `cairn backup` does to
#      each file it writes), timed;
#   2. starts cairnd on STORE (plain TCP on loopback, the site's defaults:
#      fsync=always) and runs the write load alone for SECONDS
#      (cairnd_load, CONNECTIONS connections, batches of BATCH);
#   3. runs the same load again and, at the same moment, `cairn --server
#      backup DEST`, timed. The load runs SECONDS; the backup should take at
#      least as long, so that every second of the load had a backup beside
#      it (the script says when it did not).
# Prints the rows: seconds, bytes, MiB/s of event data (the same numerator
# for cp and backup), the backup's rate as a share of cp's, and the load's
# events/s alone and beside the backup.
#
#   bench/backup/under_load.sh BUILD_BIN_DIR [MIB] [SECONDS] [CONNECTIONS] [BATCH] [WORK_DIR]
set -euo pipefail
bin=${1:?usage: under_load.sh BUILD_BIN_DIR [MIB] [SECONDS] [CONNECTIONS] [BATCH] [WORK_DIR]}
mib=${2:-2048}
seconds=${3:-10}
connections=${4:-4}
batch=${5:-10}
work=${6:-$(mktemp -d "${TMPDIR:-/tmp}/cairn-backup-load-bench-XXXXXX")}
cairn=$bin/cairn
cairnd=$bin/cairnd
load=$bin/cairnd_load
mkdir -p "$work"
source "$(dirname "$0")/make_store.sh"
trap bench_cleanup EXIT
store=$work/store
make_store "$cairn" "$store" "$mib"

rate() { awk -v m="$mib" -v s="$1" 'BEGIN { printf "%.1f", m / s }'; }

# 1. cp -r + sync of the copy.
t0=$(now)
cp -r "$store" "$work/copy"
sync -f "$work"/copy/*
t1=$(now)
cp_s=$(elapsed "$t0" "$t1")
cp_bytes=$(du -s --block-size=1 "$work/copy" | cut -f1)
rm -rf "$work/copy"
cat "$store"/* > /dev/null 2>&1 || true

# 2. The server and the load alone.
start_cairnd "$cairnd" "$store"
run_load() {  # out-file stream-prefix
  "$load" --host 127.0.0.1 --port "$port" --connections "$connections" \
    --seconds "$seconds" --batch "$batch" --stream-prefix "$2" > "$1" 2>&1
}
events_per_s() { awk '$1 == "events_per_s" { print $2 }' "$1"; }
run_load "$work/alone.txt" alone- || { cat "$work/alone.txt" >&2; exit 1; }
alone=$(events_per_s "$work/alone.txt")

# 3. The load again, with a backup through the server beside it.
run_load "$work/beside.txt" beside- &
load_pid=$!
t0=$(now)
"$cairn" --server "127.0.0.1:$port" backup "$work/backup" > "$work/backup.txt" 2>&1
t1=$(now)
wait "$load_pid" || { cat "$work/beside.txt" >&2; exit 1; }
backup_s=$(elapsed "$t0" "$t1")
backup_bytes=$(du -s --block-size=1 "$work/backup" | cut -f1)
beside=$(events_per_s "$work/beside.txt")

echo "| what | time | bytes | rate | share |"
echo "|---|---|---|---|---|"
awk -v s="$cp_s" -v b="$cp_bytes" -v r="$(rate "$cp_s")" 'BEGIN {
  printf "| cp -r + sync of the store folder | %.2f s | %.1f MiB | %s MiB/s of event data | 100%% |\n", s, b / 1048576, r }'
awk -v s="$backup_s" -v b="$backup_bytes" -v r="$(rate "$backup_s")" -v c="$cp_s" 'BEGIN {
  printf "| cairn --server backup, load beside it | %.2f s | %.1f MiB | %s MiB/s of event data | %.0f%% of cp |\n", s, b / 1048576, r, 100 * c / s }'
awk -v a="$alone" 'BEGIN { printf "| write load alone (%s s) | | | %.0f events/s | 100%% |\n", "'"$seconds"'", a }'
awk -v a="$alone" -v b="$beside" 'BEGIN { printf "| write load beside the backup | | | %.0f events/s | %.0f%% of alone |\n", b, 100 * b / a }'
echo
echo "store: $(( mib * 1024 )) events (~$mib MiB of event data) before the load; load: $connections connections, batches of $batch, $seconds s each"
if awk -v s="$backup_s" -v l="$seconds" 'BEGIN { exit !(s < l) }'; then
  echo "note: the backup ($backup_s s) ended before the load ($seconds s): part of the second load ran alone; rerun with SECONDS below the backup's time"
fi
