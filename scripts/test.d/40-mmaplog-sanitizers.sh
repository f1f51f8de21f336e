#!/usr/bin/env bash
# mmaplog under sanitizers: the stress tests (writers and readers; readers
# while retention removes segments) and the unit, retention and checkpoint
# tests, and the watermark and truncation tests (reads beside a cut), under
# ThreadSanitizer (with the idempotency-key cache), and all mmaplog unit
# tests under
# AddressSanitizer + UndefinedBehaviorSanitizer. Builds only the mmaplog test
# targets, in build/tsan-mmaplog and build/asan-mmaplog.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
jobs=${CAIRN_JOBS:-$(nproc)}
common=(-G Ninja -DCAIRN_BUILD_BENCH=OFF -DCAIRN_BUILD_SERVER=OFF -DCAIRN_BUILD_DOTNET=OFF)

run() {  # <build dir> <sanitizer> <build type> <gtest filter>
  local dir=$root/build/$1
  echo "==> mmaplog: $2 build in build/$1"
  cmake -S "$root" -B "$dir" "${common[@]}" -DCMAKE_BUILD_TYPE="$3" \
    -DCAIRN_SANITIZE="$2" >/dev/null
  cmake --build "$dir" --target mmaplog_test -j "$jobs"
  echo "==> mmaplog: tests under $2"
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" \
    timeout 600 "$dir/bin/mmaplog_test" --gtest_filter="$4" --gtest_brief=1
}

run tsan-mmaplog thread RelWithDebInfo '*Stress*:MmapLogTest.*:MmapLogIdempotencyKeys.*:MmapLogRetention.*:MmapLogCheckpoint.*:MmapLogWatermarks.*:MmapLogTruncate.*'
run asan-mmaplog address,undefined Debug '*'
echo "==> mmaplog sanitizers: clean"
