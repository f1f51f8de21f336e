#!/usr/bin/env bash
# How fast `cairn verify` checks a store (issue 17, "Figures": checksums at
# least 1 GB/s of log on a warm page cache; state the --deep rate with
# zstd + aes-gcm). Builds two stores of about MIB MiB of event data each
# (~1 KiB JSON events that zstd halves, 1000 per batch, fsync=never while
# filling) with `cairn append`: a plain one (identity codec, no cipher) and
# a sealed one (zstd level 1 + aes-gcm, a fresh keyring). Warms the page
# cache, then times, best of RUNS runs each, on each store:
#   cairn head              the process and the store's open alone
#   cairn verify            checksums, structure, indexes (with a cipher
#                           configured, verify opens every seal too)
#   cairn verify --deep     (sealed store) every event opened through
#                           zstd + aes-gcm
# and prints one row each: seconds, the log bytes checked (the size of a
# `cairn backup` of the store: its records as stored), and the rate both
# for the whole command and without the open.
#
#   bench/verify/verify_rate.sh BUILD_BIN_DIR [MIB] [RUNS] [WORK_DIR]
set -euo pipefail
bin=${1:?usage: verify_rate.sh BUILD_BIN_DIR [MIB] [RUNS] [WORK_DIR]}
mib=${2:-1024}
runs=${3:-3}
work=${4:-$(mktemp -d "${TMPDIR:-/tmp}/cairn-verify-bench-XXXXXX")}
cairn=$bin/cairn
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

fill() {  # cairn args...: append about $mib MiB of ~1 KiB events
  python3 - "$(( mib * 1024 ))" <<'PY' | "$cairn" "$@" --set storage.fsync=never \
      append bench --batch-size 1000 > /dev/null
import random, sys
n = int(sys.argv[1])
rng = random.Random(7)
words = ["order", "paid", "shipped", "customer", "line", "total", "EUR", "sku"]
for i in range(n):
    # ~960 bytes that zstd shrinks about 2x, like JSON events with ids in them
    text = " ".join(rng.choice(words) for _ in range(60))
    ids = "%0320x" % rng.getrandbits(1280)
    print('{"type":"OrderPlaced","data":{"order":%d,"ids":"%s","text":"%s"}}'
          % (i, ids, (text * 2)[:600]))
PY
}
log_bytes() {  # cairn args...: bytes of a backup of the store (its log)
  rm -rf "$work/backup"
  "$cairn" "$@" backup "$work/backup" > /dev/null
  du -sb "$work/backup" | cut -f1
  rm -rf "$work/backup"
}
now() { date +%s.%N; }
best() {  # command...: the least seconds of $runs runs (it must succeed)
  local least="" t0 t1
  for _ in $(seq "$runs"); do
    t0=$(now)
    "$@" > "$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
    t1=$(now)
    least=$(awk -v a="$least" -v b="$(awk -v x="$t0" -v y="$t1" 'BEGIN { print y - x }')" \
      'BEGIN { print (a == "" || b < a) ? b : a }')
  done
  echo "$least"
}
row() {  # name seconds open_seconds bytes
  awk -v n="$1" -v s="$2" -v o="$3" -v b="$4" 'BEGIN {
    check = s - o
    without = "-"
    if (o > 0 && check > 0) without = sprintf("%.1f MiB/s", b / 1048576 / check)
    printf "| %-44s | %7.3f s | %8.1f MiB | %8.1f MiB/s | %s |\n", n, s,
      b / 1048576, b / 1048576 / s, without }'
}

plain=(--data "$work/plain")
fill "${plain[@]}"
printf '[store]\npath = %s\n[codec]\nplugin = zstd\nlevel = 1\n[cipher]\nplugin = aes-gcm\nkeyring = %s\n' \
  "$work/sealed" "$work/keyring" > "$work/sealed.ini"
sealed=(--config "$work/sealed.ini")
"$cairn" "${sealed[@]}" keys new > /dev/null
fill "${sealed[@]}"
plain_bytes=$(log_bytes "${plain[@]}")
sealed_bytes=$(log_bytes "${sealed[@]}")
cat "$work"/plain/* "$work"/sealed/* > /dev/null 2>&1 || true

plain_open=$(best "$cairn" "${plain[@]}" head bench)
plain_verify=$(best "$cairn" "${plain[@]}" verify)
sealed_open=$(best "$cairn" "${sealed[@]}" head bench)
sealed_verify=$(best "$cairn" "${sealed[@]}" verify)
sealed_deep=$(best "$cairn" "${sealed[@]}" verify --deep)

echo "| what | time | log checked | rate | rate without the open |"
echo "|---|---|---|---|---|"
row "cairn head (open only), plain" "$plain_open" 0 "$plain_bytes"
row "cairn verify, plain" "$plain_verify" "$plain_open" "$plain_bytes"
row "cairn head (open only), zstd + aes-gcm" "$sealed_open" 0 "$sealed_bytes"
row "cairn verify, zstd + aes-gcm" "$sealed_verify" "$sealed_open" "$sealed_bytes"
row "cairn verify --deep, zstd + aes-gcm" "$sealed_deep" "$sealed_open" "$sealed_bytes"
echo
echo "events: $(( mib * 1024 )) per store (~1 KiB each); best of $runs runs; warm page cache"
