#!/usr/bin/env bash
# Instructions per call of mmaplog's own functions, old build against new,
# counted by callgrind: where wall-clock A/Bs on a shared VM spread by 2x,
# the count of instructions an append or a read executes is the same from
# run to run, so a few percent of CPU work shows (docs/benchmarks.md, "ABI
# 2.0 against 1.0, instructions per call"). It does not see time spent
# waiting for the disk (fsync) or the kernel's page faults: fsync=always
# rows still need a timed A/B for that part.
#
# For each row (a --benchmark_filter of mmaplog_bench, which should select
# one benchmark) and each binary, runs it once under callgrind and prints
# the inclusive instructions of the busiest call edge into FUNCTION (a
# regular expression over callgrind_annotate's function names) divided by
# its number of calls, and new against old in percent.
#
# usage: bench/mmaplog/callgrind_ab.sh OLD_BENCH NEW_BENCH FUNCTION ROW...
#   OLD_BENCH, NEW_BENCH  two mmaplog_bench binaries
#   FUNCTION  e.g. 'mmaplog::Log::Append\(' or 'mmaplog::Log::ReadAll\('
# Needs valgrind. Scratch files go to ${TMPDIR:-/var/tmp}.
set -euo pipefail

usage="usage: callgrind_ab.sh OLD_BENCH NEW_BENCH FUNCTION ROW..."
old=${1:?$usage}
new=${2:?$usage}
function=${3:?$usage}
shift 3
[[ $# -gt 0 ]] || { echo "callgrind_ab: no ROW given; $usage" >&2; exit 2; }
for b in "$old" "$new"; do
  [[ -x $b ]] || { echo "callgrind_ab: '$b' is not an executable" >&2; exit 2; }
done
command -v valgrind > /dev/null ||
  { echo "callgrind_ab: valgrind is not installed" >&2; exit 2; }

scratch=$(mktemp -d "${TMPDIR:-/var/tmp}/callgrind-ab.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# Prints "IR CALLS" of the busiest edge into $function in an annotate file.
busiest() {
  grep -E "=> .*${function}" "$1" | grep -v lambda |
    awk '{ ir = $1; gsub(",", "", ir); n = $NF; gsub(/[(),x]/, "", n);
           if (ir + 0 > best) { best = ir + 0; calls = n + 0 } }
         END { if (calls == 0) exit 1; printf "%.0f %.0f\n", best, calls }'
}

# Runs one row of one binary; prints instructions per call.
per_call() {
  local bin=$1 row=$2 out="$scratch/callgrind.out"
  (cd "$scratch" && TMPDIR="$scratch" valgrind --tool=callgrind \
      --callgrind-out-file="$out" "$bin" --benchmark_filter="$row" \
      --benchmark_min_time=0.001 > "$scratch/run.txt" 2>&1) || {
    echo "callgrind_ab: $bin --benchmark_filter='$row' failed:" >&2
    tail -5 "$scratch/run.txt" >&2
    exit 1
  }
  callgrind_annotate --inclusive=yes "$out" > "$scratch/annotate.txt" 2> /dev/null
  local counts
  counts=$(busiest "$scratch/annotate.txt") || {
    echo "callgrind_ab: no call into '$function' in row '$row' of $bin" >&2
    exit 1
  }
  rm -f "$out"
  awk '{ printf "%.1f\n", $1 / $2 }' <<< "$counts"
}

printf '| row | old (Ir/call) | new (Ir/call) | new vs old |\n|---|---|---|---|\n'
for row in "$@"; do
  a=$(per_call "$old" "$row")
  b=$(per_call "$new" "$row")
  awk -v r="$row" -v a="$a" -v b="$b" \
    'BEGIN { printf "| `%s` | %s | %s | %+.1f%% |\n", r, a, b, (b / a - 1) * 100 }'
done
