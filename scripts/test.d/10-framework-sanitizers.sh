#!/usr/bin/env bash
# The framework's tests (loader, config, Store pipeline, subscriptions, the
# memory plugin underneath) under AddressSanitizer+UBSan and under
# ThreadSanitizer. Only the targets needed are built, in build/asan and
# build/tsan, so this stays a few minutes on two cores.
set -euo pipefail
source "$(dirname "$0")/../lib/setup.sh"
cd "$CAIRN_ROOT"

status=0
for preset in asan tsan; do
  log "framework tests under $preset"
  cmake --preset "$preset" -DCAIRN_BUILD_SERVER=OFF -DCAIRN_BUILD_DOTNET=OFF >/dev/null
  cmake --build "build/$preset" -j "$CAIRN_JOBS" --target framework_tests
  # halt_on_error: a sanitizer report fails the test, not just prints.
  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir "build/$preset" -L framework --output-on-failure -j "$CAIRN_JOBS" || status=1
done
exit $status
