#!/usr/bin/env bash
# mmaplog under sanitizers: the stress tests (writers and readers; readers
# while retention removes segments) and the unit, retention and checkpoint
# tests, and the watermark and truncation tests (reads beside a cut), under
# ThreadSanitizer (with the idempotency-key cache), and all mmaplog unit
# tests under
# AddressSanitizer + UndefinedBehaviorSanitizer. Builds only the mmaplog test
# target, in build/tsan and build/asan: the directories (and so the objects)
# of the framework and cairnd sanitizer stages, configured the same way, so
# the framework and the plugin are compiled once per sanitizer, not twice.
set -euo pipefail
source "$(dirname "$0")/../lib/setup.sh"
cd "$CAIRN_ROOT"

run() {  # <preset> <gtest filter>
  local dir=$CAIRN_ROOT/build/$1
  log "mmaplog: building mmaplog_test in build/$1"
  sanitizer_configure "$1"
  cmake --build "$dir" --target mmaplog_test -j "$CAIRN_JOBS"
  log "mmaplog: tests under $1"
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
  ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" \
    timeout 600 "$dir/bin/mmaplog_test" --gtest_filter="$2" --gtest_brief=1
}

run tsan '*Stress*:MmapLogTest.*:MmapLogIdempotencyKeys.*:MmapLogRetention.*:MmapLogCheckpoint.*:MmapLogWatermarks.*:MmapLogTruncate.*'
run asan '*'
log "mmaplog sanitizers: clean"
