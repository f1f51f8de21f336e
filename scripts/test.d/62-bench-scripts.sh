#!/usr/bin/env bash
# The bench/ shell scripts on tiny stores (16 MiB, one run each), so that
# they keep working: each must exit 0 and print its table's rows. Their
# figures mean nothing at this size; the real runs and results are in
# docs/benchmarks.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CAIRN_BUILD_DIR:-$root/build/release}/bin
status=0
# check NAME ROWS PATTERN CMD...: CMD must exit 0 within 180 s and print at
# least ROWS lines that match PATTERN (grep's basic regex).
check() {
  local name=$1 rows=$2 pattern=$3 out
  shift 3
  out=$(mktemp "${TMPDIR:-/tmp}/cairn-bench-script.XXXXXX")
  if timeout 180 "$@" >"$out" 2>&1 &&
    [ "$(grep -c -- "$pattern" "$out")" -ge "$rows" ]; then
    echo "62-bench-scripts: $name: ok"
  else
    echo "62-bench-scripts: $name: FAILED" >&2
    tail -n 20 "$out" >&2
    status=1
  fi
  rm -f "$out"
}
run() {  # ROWS SCRIPT ARGS...: the script must print at least ROWS table rows
  local rows=$1 script=$2
  shift 2
  check "$script $*" "$rows" '^| [a-z]' "$root/$script" "$bin" "$@"
}
run 5 bench/verify/verify_rate.sh 16 1
run 4 bench/backup/under_load.sh 16 1 2 10
run 4 bench/backup/backup_vs_cp.sh 16
run 2 bench/backup/server_vs_local.sh 16 1
# The alternated wall-clock A/B of two mmaplog_bench builds (here one
# against itself, one round of one row): it must print the row's events/s.
check bench/mmaplog/timed_ab.sh 1 '^| `BM_AppendNever/threads:1/batch:100/.*` | events/s | ' \
  "$root/bench/mmaplog/timed_ab.sh" "$bin/mmaplog_bench" "$bin/mmaplog_bench" \
  1 'BM_AppendNever/threads:1/batch:100/'
exit $status
