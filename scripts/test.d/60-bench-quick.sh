#!/usr/bin/env bash
# cairn-bench --quick: every workload on every engine (Cairn's four, SQLite,
# RocksDB, LMDB), small and short, in under a minute. Fails unless every
# engine produced a figure for every workload it runs (a workload listed
# with "engines=a+b" runs on those alone). The full comparison is
# `cairn-bench --suite standard` (see docs/benchmarks.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${CAIRN_BUILD_DIR:-$root/build/release}
bench=$build/bin/cairn-bench
if [ ! -x "$bench" ]; then
  echo "60-bench-quick: $bench is missing; build the release preset first" >&2
  exit 1
fi
out=$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-quick.XXXXXX")
trap 'rm -rf "$out"' EXIT

start=$(date +%s)
status=0
timeout 120 "$bench" --quick --out "$out" || status=$?
elapsed=$(( $(date +%s) - start ))

json=$out/results.json
if [ ! -s "$json" ]; then
  echo "60-bench-quick: FAILED: no results.json (exit $status)" >&2
  exit 1
fi
list=$("$bench" --quick --list)
workloads=$(grep -vc '^engines:\|left out' <<<"$list")
engines=$(sed -n 's/^engines: //p' <<<"$list" | tr ',' '\n' | grep -c .)
# Every workload on every engine, but a restricted one on its own engines.
expected=$(grep -v '^engines:\|left out' <<<"$list" | awk -v all="$engines" '
  { n = all; if (match($0, /,engines=[^ ,]*/)) n = split(substr($0, RSTART + 9, RLENGTH - 9), e, "+") }
  { total += n } END { print total }')
count() { { grep -o "$1" "$json" || true; } | wc -l; }
figures=$(count '"median": {"events"')
failures=$(count '"median": {"error"')
echo "60-bench-quick: $figures of $expected figures ($workloads workloads, $engines engines), $failures failed, ${elapsed}s"
if [ "$status" -ne 0 ] || [ "$figures" -ne "$expected" ] || [ "$failures" -ne 0 ]; then
  grep -o '"error": "[^"]*"' "$json" | sort | uniq -c | head -20 >&2 || true
  echo "60-bench-quick: FAILED (cairn-bench exit $status)" >&2
  exit 1
fi
if [ "$elapsed" -gt 60 ]; then
  echo "60-bench-quick: FAILED: took ${elapsed}s, the budget is 60s" >&2
  exit 1
fi
echo "60-bench-quick: passed"
