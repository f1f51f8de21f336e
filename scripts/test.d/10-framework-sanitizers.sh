#!/usr/bin/env bash
# The framework's tests (loader, config, Store pipeline, subscriptions, the
# memory plugin underneath) under AddressSanitizer+UBSan and under
# ThreadSanitizer; under ThreadSanitizer also the conformance suites of the
# built-in codecs and ciphers (concurrent decode/open, seal, rotate). Only the targets needed are built, in build/asan and
# build/tsan, so this stays a few minutes on two cores.
set -euo pipefail
source "$(dirname "$0")/../lib/setup.sh"
cd "$CAIRN_ROOT"

codec_cipher_plugins=(cairn-codec-identity cairn-codec-zstd cairn-cipher-none
                      cairn-cipher-aes-gcm cairn-cipher-chacha20-poly1305)
status=0
for preset in asan tsan; do
  log "framework tests under $preset"
  sanitizer_configure "$preset"
  targets=(framework_tests store_replication_test)
  # Under TSan also the conformance runner over the built-in codecs and
  # ciphers: their suites run decode/open beside encode/seal/rotate (the
  # threading contract of cairn/plugin.h), which only TSan fully checks.
  [ "$preset" = tsan ] && targets+=(cairn-conformance "${codec_cipher_plugins[@]}")
  cmake --build "build/$preset" -j "$CAIRN_JOBS" --target "${targets[@]}"
  # halt_on_error: a sanitizer report fails the test, not just prints.
  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir "build/$preset" -L framework --output-on-failure -j "$CAIRN_JOBS" || status=1
  if [ "$preset" = tsan ]; then
    log "codec and cipher conformance under tsan"
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
      ctest --test-dir "build/$preset" -R '^conformance\.cairn-(codec|cipher)-' \
        --output-on-failure -j "$CAIRN_JOBS" || status=1
  fi
done
exit $status
