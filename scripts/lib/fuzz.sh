# Shared by scripts/fuzz-store and scripts/fuzz-parsers: builds the libFuzzer
# targets of fuzz/ (clang, ASan + UBSan) in build/fuzz, apart from the main
# g++ build, and runs one of them. Sourced, not run.

FUZZ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ_BUILD="$FUZZ_ROOT/build/fuzz"

# fuzz_seconds NAME VALUE: VALUE if it is a whole number, else exits 2.
fuzz_seconds() {
  case "$2" in
    ''|*[!0-9]*) echo "$1: SECONDS must be a whole number, not '$2'" >&2; exit 2 ;;
  esac
}

# Configures (once) and builds the fuzz targets; nothing when FUZZ_BUILT is
# set (a caller that built them first and then runs fuzzers side by side,
# which must not build in one folder at once).
fuzz_build() {
  [ -z "${FUZZ_BUILT:-}" ] || return 0
  local clangxx clangc
  clangxx="$(command -v clang++-14 || command -v clang++ || true)"
  clangc="$(command -v clang-14 || command -v clang || true)"
  if [ -z "$clangxx" ]; then
    echo "fuzz: clang++ not found; install clang-14 and libclang-rt-14-dev" >&2
    exit 1
  fi
  if [ ! -f "$FUZZ_BUILD/build.ninja" ]; then
    CC="$clangc" CXX="$clangxx" cmake -S "$FUZZ_ROOT/fuzz" -B "$FUZZ_BUILD" \
      -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" \
      "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" >/dev/null
  fi
  # Quiet when it builds; the compiler's and linker's words when it does not.
  if ! cmake --build "$FUZZ_BUILD" -j2 >"$FUZZ_BUILD/build.log" 2>&1; then
    grep -E -B2 -A12 'error|FAILED' "$FUZZ_BUILD/build.log" | head -80 >&2
    echo "fuzz: building the fuzz targets failed (whole log: $FUZZ_BUILD/build.log)" >&2
    exit 1
  fi
}

# fuzz_seed TARGET NAME BYTES: writes one seed input (printf format).
fuzz_seed() {
  mkdir -p "$FUZZ_BUILD/corpus/$1"
  printf "$3" > "$FUZZ_BUILD/corpus/$1/seed-$2"
}

# fuzz_run TARGET SECONDS [libFuzzer flags...]: runs TARGET on its corpus
# for SECONDS; on a crash prints the log's tail and where the input is, and
# returns 1.
fuzz_run() {
  local target="$1" seconds="$2"
  shift 2
  local corpus="$FUZZ_BUILD/corpus/$target" artifacts="$FUZZ_BUILD/artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  echo "fuzz: running $target for ${seconds}s"
  if ! "$FUZZ_BUILD/$target" "$corpus" -max_total_time="$seconds" -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$artifacts" "$@" \
      2>"$FUZZ_BUILD/$target.log"; then
    tail -40 "$FUZZ_BUILD/$target.log" >&2
    echo "fuzz: $target FAILED (crash input in $artifacts)" >&2
    return 1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|damaged stores" \
    "$FUZZ_BUILD/$target.log" || true
  echo "fuzz: $target: no crash in ${seconds}s"
}
