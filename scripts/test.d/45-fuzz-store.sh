#!/usr/bin/env bash
# Bounded libFuzzer runs, about 60 s on 2 cores: opening an mmaplog store
# with a damaged file (60 s) on one core, and beside it the site INI, event
# JSON and keyring parsers (20 s each) on the other. The long versions:
# scripts/fuzz-store, scripts/fuzz-parsers.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
source "$root/scripts/lib/fuzz.sh"
# Built once here; the two runs below then only run (FUZZ_BUILT).
fuzz_build
export FUZZ_BUILT=1
logs=$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz.XXXXXX")
trap 'rm -rf "$logs"' EXIT
# run NAME CMD...: CMD with its lines prefixed by [NAME]; its exit status
# goes to $logs/NAME.
run() {
  local name=$1 rc=0
  shift
  "$@" 2>&1 | sed -u "s/^/[$name] /" || rc=$?
  echo $rc >"$logs/$name"
}
run store "$root/scripts/fuzz-store" 60 &
run parsers "$root/scripts/fuzz-parsers" 20 &
wait
status=0
for name in store parsers; do
  [ "$(cat "$logs/$name" 2>/dev/null)" = 0 ] || { echo "==> fuzz-$name failed" >&2; status=1; }
done
exit $status
