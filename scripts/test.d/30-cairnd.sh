#!/usr/bin/env bash
# cairnd stages beyond ctest: a bounded libFuzzer run over the frame and
# request decoding (30 s), and a short loopback load run (10 s, 50
# connections). The long versions: scripts/fuzz-cairnd, scripts/load-cairnd.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
status=0
"$root/scripts/fuzz-cairnd" 30 || status=1
"$root/scripts/load-cairnd" --seconds 10 --connections 50 || status=1
exit $status
