#!/usr/bin/env bash
# Wall-clock A/B of two mmaplog_bench builds, alternated: for the rows
# callgrind cannot judge (callgrind_ab.sh counts instructions, not the time
# an fsync=always append waits for the disk), runs OLD and NEW in turn,
# ROUNDS times each (the order swapped every round, each run a fresh
# process writing into a fresh folder), and prints per row the median and
# the range of events/s and, where the row reports them, of appends per
# sync and p99 latency, with NEW against OLD. The medians of alternated
# runs are what to compare: one run of one binary moves by tens of percent
# on this VM. A row only one build has is printed with a dash for the
# other.
#
# usage: bench/mmaplog/timed_ab.sh OLD_BENCH NEW_BENCH ROUNDS FILTER [MIN_TIME]
#   FILTER    a --benchmark_filter regular expression
#   MIN_TIME  --benchmark_min_time for rows without a fixed iteration count
# Files go to ${MMAPLOG_BENCH_DIR:-/var/tmp}; needs python3.
set -euo pipefail

usage="usage: timed_ab.sh OLD_BENCH NEW_BENCH ROUNDS FILTER [MIN_TIME]"
old=${1:?$usage}
new=${2:?$usage}
rounds=${3:?$usage}
filter=${4:?$usage}
min_time=${5:-0.5}
for b in "$old" "$new"; do
  [[ -x $b ]] || { echo "timed_ab: '$b' is not an executable" >&2; exit 2; }
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] ||
  { echo "timed_ab: ROUNDS must be a positive whole number, not '$rounds'" >&2; exit 2; }

base=${MMAPLOG_BENCH_DIR:-/var/tmp}
scratch=$(mktemp -d "$base/timed-ab.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

run() {  # BIN OUT
  local dir
  dir=$(mktemp -d "$scratch/run.XXXXXX")
  MMAPLOG_BENCH_DIR=$dir "$1" --benchmark_filter="$filter" \
    --benchmark_min_time="$min_time" --benchmark_format=json \
    --benchmark_out="$2" --benchmark_out_format=json > /dev/null 2> "$2.err" || {
    echo "timed_ab: $1 failed:" >&2
    tail -5 "$2.err" >&2
    exit 1
  }
  rm -rf "$dir"
}
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then order=(old new); else order=(new old); fi
  for which in "${order[@]}"; do
    if [[ $which == old ]]; then bin=$old; else bin=$new; fi
    run "$bin" "$scratch/$which.$r.json"
    echo "timed_ab: round $r/$rounds: $which done" >&2
  done
done

python3 - "$scratch" "$rounds" <<'PY'
import json, statistics, sys
scratch, rounds = sys.argv[1], int(sys.argv[2])
rows = {}  # name -> which -> metric -> [values]
order = []
for which in ("old", "new"):
    for r in range(1, rounds + 1):
        with open(f"{scratch}/{which}.{r}.json") as f:
            for b in json.load(f)["benchmarks"]:
                name = b["name"]
                if name not in rows:
                    rows[name] = {"old": {}, "new": {}}
                    order.append(name)
                for metric in ("items_per_second", "appends_per_sync", "p99_us"):
                    if metric in b:
                        rows[name][which].setdefault(metric, []).append(b[metric])
labels = {"items_per_second": "events/s", "appends_per_sync": "appends per sync",
          "p99_us": "p99 (µs)"}
print("| row | metric | old: median (min–max) | new: median (min–max) | new against old |")
print("|---|---|---|---|---|")
def fmt(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.2f}"
for name in order:
    for metric, label in labels.items():
        o, n = rows[name]["old"].get(metric), rows[name]["new"].get(metric)
        if not o and not n:
            continue
        # A row only one build has (new in NEW, gone from it) is shown with
        # a dash for the other.
        cell = lambda v: (f"{fmt(statistics.median(v))} ({fmt(min(v))}–{fmt(max(v))})"
                          if v else "—")
        change = "—"
        if o and n and statistics.median(o):
            change = f"{(statistics.median(n) / statistics.median(o) - 1) * 100:+.1f}%"
        print(f"| `{name}` | {label} | {cell(o)} | {cell(n)} | {change} |")
PY
