#!/usr/bin/env bash
# cairnd under sanitizers: the server, connection and client code through
# the unit, protocol, bad-input, TLS and robustness tests (which start the
# sanitized cairnd), then a short bounded load run, under
# AddressSanitizer+UBSan (build/asan) and ThreadSanitizer (build/tsan); and
# libcairn-c, the keyring library and the zstd codec tests under
# AddressSanitizer+UBSan; and logship's unit and 3-node cluster tests (its
# shipper, replica, watchdog and elector threads) under ThreadSanitizer.
# Builds only these targets (stage 10 already built the framework in the
# same folders).
set -euo pipefail
source "$(dirname "$0")/../lib/setup.sh"
cd "$CAIRN_ROOT"

server_tests=(cairnd_unit_test cairnd_protocol_test cairnd_bad_input_test
              cairnd_tls_test cairnd_access_test cairnd_robustness_test)
other_tests=(cairn_c_test cairn_keyring_test cairn_zstd_codec_test)
thread_tests=(logship_test logship_cluster_test logship_etcd_cluster_test)
# halt_on_error: a sanitizer report fails the test (or makes the cairnd a
# test started exit non-zero, which fails the test), not just prints.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

status=0
for preset in asan tsan; do
  targets=(cairnd cairnd_load "${server_tests[@]}")
  [ "$preset" = asan ] && targets+=("${other_tests[@]}")
  [ "$preset" = tsan ] && targets+=("${thread_tests[@]}")
  log "cairnd under $preset: building ${targets[*]}"
  sanitizer_configure "$preset"
  cmake --build "build/$preset" -j "$CAIRN_JOBS" --target "${targets[@]}"
  labels=(-L '^cairnd$|^cairnd_unit_test$')
  if [ "$preset" = asan ]; then
    labels=(-L '^cairnd$|^cairnd_unit_test$|^cairn_c_test$|^cairn_keyring_test$|^cairn_zstd_codec_test$')
  else
    labels=(-L '^cairnd$|^cairnd_unit_test$|^logship_test$|^logship_cluster_test$')
  fi
  log "cairnd tests under $preset"
  ctest --test-dir "build/$preset" "${labels[@]}" --output-on-failure \
    -j "$CAIRN_JOBS" || status=1
  if [ "$preset" = tsan ]; then
    # Against a real 3-member etcd (etcd-server is in packages.txt); one at a
    # time, each case starts its own etcd. The sync-set fixtures run the
    # primary's set upkeep (leave, slow member, floor, rejoin) beside the
    # appending threads.
    log "logship with etcd under tsan"
    ctest --test-dir "build/$preset" \
      -R '^LogshipEtcdCluster(Sync|SlowMember|FlappingMember|Strict)?\.' \
      --output-on-failure || status=1
  fi
  # The memory bounds of the load run measure the release allocator, not a
  # sanitizer's (quarantine, shadow): only correctness is checked here.
  log "bounded load run under $preset"
  CAIRN_BUILD_DIR="$CAIRN_ROOT/build/$preset" "$CAIRN_ROOT/scripts/load-cairnd" \
    --seconds 5 --connections 20 --max-anon-growth-mib 100000 \
    --max-trend-mib 100000 || status=1
done
exit $status
