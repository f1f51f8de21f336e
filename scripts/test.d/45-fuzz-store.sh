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
source "$root/scripts/lib/side_by_side.sh"
side_by_side_dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz.XXXXXX")
trap 'rm -rf "$side_by_side_dir"' EXIT
side_by_side fuzz-store "$root/scripts/fuzz-store" 60 &
side_by_side fuzz-parsers "$root/scripts/fuzz-parsers" 20 &
wait
side_by_side_status fuzz-store fuzz-parsers
