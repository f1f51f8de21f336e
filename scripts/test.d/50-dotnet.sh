#!/usr/bin/env bash
# .NET stage: builds libcairn-c, cairnd and the test-role-file replication
# fixture (CMake), then runs the Akka.Persistence.Cairn xunit suite twice:
# embedded (P/Invoke into libcairn-c, in-process store) and remote (each test
# starts a real cairnd on a free loopback port). Prints dotnet test's summary
# for each mode.
#
#   CAIRN_DOTNET_BUILD   CMake build folder to use (default build/release;
#                        relative to the repository or absolute)
#   CAIRN_DOTNET_MODES   modes to run (default "embedded remote")
set -euo pipefail
source "$(dirname "$0")/../lib/setup.sh"
cd "$CAIRN_ROOT"

build=${CAIRN_DOTNET_BUILD:-build/release}
case "$build" in /*) ;; *) build="$CAIRN_ROOT/$build" ;; esac
modes=${CAIRN_DOTNET_MODES:-embedded remote}

if [ ! -f "$build/build.ninja" ]; then
  log "configuring $build"
  cmake -S "$CAIRN_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
# The embedded NOT_LEADER test loads the test-role-file replication fixture.
targets=(cairn_c fixture-replication-role-file)
for m in $modes; do [ "$m" = remote ] && targets+=(cairnd); done
log "building ${targets[*]} in $build"
cmake --build "$build" --target "${targets[@]}" -j "$CAIRN_JOBS"

export CAIRN_NATIVE_DIR="$build/lib"
export CAIRN_CAIRND="$build/bin/cairnd"
export CAIRN_FIXTURE_DIR="$build/fixtures"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log "dotnet build hosts/dotnet/Cairn.sln"
dotnet build hosts/dotnet/Cairn.sln -c Release -p:CairnNativeDir="$CAIRN_NATIVE_DIR" -v quiet -nologo

status=0
for mode in $modes; do
  log "dotnet test ($mode mode)"
  # The test host gets a hard bound: a hung test fails the stage, not CI.
  filter=(--filter "Category!=RemoteOnly")
  [ "$mode" = remote ] && filter=(--filter "Category!=EmbeddedOnly")
  out=$(mktemp)
  CAIRN_TEST_MODE=$mode dotnet test hosts/dotnet/tests/Akka.Persistence.Cairn.Tests -c Release --no-build \
    "${filter[@]}" --blame-hang-timeout 5m --logger "console;verbosity=minimal" 2>&1 | tee "$out" || status=1
  # dotnet's summary as the plain "N passed, N failed" line CI reads.
  passed=$(sed -n 's/.*Passed: *\([0-9][0-9]*\),.*/\1/p' "$out" | tail -1)
  failed=$(sed -n 's/.*Failed: *\([0-9][0-9]*\),.*/\1/p' "$out" | tail -1)
  rm -f "$out"
  if [ -z "$passed" ]; then
    log "dotnet test ($mode) printed no summary"
    status=1
  else
    echo "dotnet-$mode: ${passed} passed, ${failed:-0} failed"
  fi
done
exit $status
