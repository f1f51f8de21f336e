#!/usr/bin/env bash
# Backup throughput against `cp -r` of the same store folder, in one run
# (issue 17, "Figures"). Builds a store of about MIB MiB of event data with
# `cairn append`, then times, on a warm page cache:
#   cp -r STORE COPY                  (every file, preallocated segments too)
#   cp -r STORE COPY; sync -f COPY/*  (the same, made durable as backup does)
#   cairn backup DEST                 (the ordered log up to committed)
#   cairn restore DEST --data DIR     (check + apply_log + reopen)
# and prints one table row each: seconds, bytes read or written, MiB/s of
# event log (the store's written log bytes, the same numerator for all).
#
#   bench/backup/backup_vs_cp.sh BUILD_BIN_DIR [MIB] [WORK_DIR]
set -euo pipefail
bin=${1:?usage: backup_vs_cp.sh BUILD_BIN_DIR [MIB] [WORK_DIR]}
mib=${2:-512}
work=${3:-$(mktemp -d "${TMPDIR:-/tmp}/cairn-backup-bench-XXXXXX")}
cairn=$bin/cairn
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
store=$work/store
source "$(dirname "$0")/make_store.sh"
make_store "$cairn" "$store" "$mib"
log_bytes=$(du -sb --apparent-size "$store" | cut -f1)
used_bytes=$(du -sb "$store" | cut -f1)
# Warm the cache for everyone.
cat "$store"/* > /dev/null 2>&1 || true

row() {  # name seconds bytes
  awk -v n="$1" -v s="$2" -v b="$3" -v e="$events" -v m="$mib" \
    'BEGIN { printf "| %-34s | %7.2f s | %8.1f MiB | %8.1f MiB/s of event data |\n",
             n, s, b / 1048576, m / s }'
}
echo "store: $events events (~$mib MiB of event data), folder $(( used_bytes >> 20 )) MiB used on disk, $(( log_bytes >> 20 )) MiB apparent"
echo "| what | time | bytes | rate |"
echo "|---|---|---|---|"
t0=$(now); cp -r "$store" "$work/copy"; t1=$(now)
row "cp -r of the store folder" "$(elapsed "$t0" "$t1")" "$(du -sb "$work/copy" | cut -f1)"
rm -rf "$work/copy"
# cairn backup syncs every file it writes; so does this one.
t0=$(now); cp -r "$store" "$work/copy"; sync -f "$work/copy"/*; t1=$(now)
row "cp -r + sync of the copy" "$(elapsed "$t0" "$t1")" "$(du -sb "$work/copy" | cut -f1)"
rm -rf "$work/copy"
t0=$(now); "$cairn" --data "$store" backup "$work/backup" 2>/dev/null >/dev/null; t1=$(now)
row "cairn backup" "$(elapsed "$t0" "$t1")" "$(du -sb "$work/backup" | cut -f1)"
t0=$(now); "$cairn" restore "$work/backup" --data "$work/restored" --set storage.fsync=never \
  2>/dev/null >/dev/null; t1=$(now)
row "cairn restore (fsync=never)" "$(elapsed "$t0" "$t1")" "$(du -sb "$work/restored" | cut -f1)"
