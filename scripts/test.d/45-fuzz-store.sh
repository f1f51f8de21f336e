#!/usr/bin/env bash
# Bounded libFuzzer runs (about 100 s in all): opening an mmaplog store with
# a damaged file (40 s), then the site INI, event JSON and keyring parsers
# (20 s each). The long versions: scripts/fuzz-store, scripts/fuzz-parsers.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
status=0
"$root/scripts/fuzz-store" 40 || status=1
"$root/scripts/fuzz-parsers" 20 || status=1
exit $status
