#!/usr/bin/env bash
# A third party's view of the SDK (issue #19):
#  1. the SDK (cairn-dev, cairn-plugins, libcairn-c1) is installed from the
#     release build into a temporary prefix, and the prefix is then MOVED:
#     everything below uses the moved install, so it must be relocatable;
#  2. every example the SDK installs (share/doc/cairn-dev/examples: a codec,
#     a storage, a cipher and a replication plugin) builds out of tree from
#     the installed copy with find_package(Cairn COMPONENTS sdk) while Abseil
#     and Boost cannot be found (CMAKE_DISABLE_FIND_PACKAGE_absl/_Boost), and
#     passes the installed cairn-conformance; a plain find_package(Cairn)
#     still gives Cairn::cairn; the dev component alone builds one too;
#  3. the installed runner refuses a bad command line up front (exit 2, no
#     test run), and the installed in-tree plugins pass it;
#  4. the moved libcairn-c finds a plugin put in the moved plugin folder,
#     and names the folders it tried when a plugin is not there.
# Prints a summary; exits non-zero on any failure.
set -euo pipefail
source "$(dirname "$0")/../lib/setup.sh"
cd "$CAIRN_ROOT"

build_dir=${CAIRN_BUILD_DIR:-$CAIRN_ROOT/build/release}
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-sdk-XXXXXX")
trap 'rm -rf "$work"' EXIT
first=$work/installed-here
prefix=$work/moved/there

declare -a summary=()
status=0
pass() { summary+=("PASS  $*"); }
fail() { summary+=("FAIL  $*"); status=1; log "FAIL: $*"; }

log "installing the SDK from $build_dir to a temporary prefix, then moving it"
# The SDK's components only (cairn-dev, cairn-plugins, libcairn-c1): the
# server's component installs to absolute paths (/etc/cairn, the systemd
# folder) that a prefix does not move.
for component in dev plugins capi; do
  if ! cmake --install "$build_dir" --prefix "$first" --component "$component" \
        >>"$work/install.log" 2>&1; then
    cat "$work/install.log" >&2
    log "cmake --install --component $component failed"
    exit 1
  fi
done
mkdir -p "$(dirname "$prefix")"
mv "$first" "$prefix"
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build_dir/CMakeCache.txt")
libdir=${libdir:-lib}
plugin_dir=$prefix/$libdir/cairn/plugins
examples=$prefix/share/doc/cairn-dev/examples
runner=$prefix/bin/cairn-conformance

# ---- 2. the installed examples, out of tree, SDK only ----------------------
# build_example <name>: configures and builds $examples/<name> in
# $work/<name>; Abseil and Boost are made unfindable.
build_example() {
  local name=$1
  if cmake -S "$examples/$name" -B "$work/$name" -G Ninja -DCMAKE_BUILD_TYPE=Release \
       -DCMAKE_PREFIX_PATH="$prefix" \
       -DCMAKE_DISABLE_FIND_PACKAGE_absl=ON -DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON \
       >"$work/$name-configure.log" 2>&1 &&
     cmake --build "$work/$name" >"$work/$name-build.log" 2>&1; then
    pass "example $name builds from the installed copy with find_package(Cairn COMPONENTS sdk), no Abseil or Boost"
    return 0
  fi
  cat "$work/$name-configure.log" "$work/$name-build.log" >&2 2>/dev/null || true
  fail "example $name does not build against the installed SDK"
  return 1
}

# run <label> <runner arguments...>: the installed runner must pass.
run() {
  local label=$1
  shift
  local out=$work/run-$(echo "$label" | tr ' /=' '___').log
  if "$runner" "$@" >"$out" 2>&1; then
    pass "$label ($(grep -o '[0-9]* passed, [0-9]* failed, [0-9]* skipped' "$out" | tail -1))"
  else
    fail "$label"
    grep -E 'BROKEN|FAILED|cannot load|refuses|error' "$out" | head -40 >&2 || true
  fi
}

# refuses <label> <expected error regex> <runner arguments...>: exit 2, the
# error, and no test run.
refuses() {
  local label=$1 expect=$2
  shift 2
  local rc=0
  "$runner" "$@" >"$work/refuse.out" 2>"$work/refuse.err" || rc=$?
  if [ $rc -eq 2 ] && grep -Eq "$expect" "$work/refuse.err" &&
     ! grep -q '^\[ RUN' "$work/refuse.out"; then
    pass "runner refuses up front: $label"
  else
    cat "$work/refuse.out" "$work/refuse.err" >&2
    fail "runner refuses up front (exit 2, '$expect', no test run): $label (exit $rc)"
  fi
}

for name in rle-codec memory-storage chacha-cipher none-replication; do
  if [ ! -f "$examples/$name/CMakeLists.txt" ]; then
    fail "the SDK does not install the example $name"
    continue
  fi
  build_example "$name" || continue
  if grep -q "\"$runner\"" "$work/$name/CTestTestfile.cmake"; then
    pass "example $name: find_package(Cairn) names the moved install's runner"
  else
    fail "example $name: CAIRN_CONFORMANCE is not $runner (the install is not relocatable)"
  fi
  case $name in
    rle-codec)
      run "example rle codec" --plugin "$work/$name/libcairn-codec-rle.so"
      run "example rle codec, min-run=8" --plugin "$work/$name/libcairn-codec-rle.so" --option min-run=8
      refuses "a value the plugin's open refuses (rle min-run=1)" \
        "codec plugin 'rle' refuses to open with these options: .*min-run" \
        --plugin "$work/$name/libcairn-codec-rle.so" --option min-run=1 ;;
    memory-storage)
      run "example memory storage" --plugin "$work/$name/libcairn-storage-memory-example.so" ;;
    chacha-cipher)
      head -c 32 /dev/urandom >"$work/key" && chmod 600 "$work/key"
      run "example chacha cipher" --plugin "$work/$name/libcairn-cipher-chacha-example.so" \
        --option "key-file=$work/key"
      refuses "a required option left out (chacha key-file)" "key-file" \
        --plugin "$work/$name/libcairn-cipher-chacha-example.so" ;;
    none-replication)
      run "example none replication" --plugin "$work/$name/libcairn-replication-none-example.so" ;;
  esac
done

# A plugin author with the dev component alone (no plugins, no libcairn-c):
# find_package(Cairn COMPONENTS sdk) and the build need nothing else.
dev_only=$work/dev-only
if cmake --install "$build_dir" --prefix "$dev_only" --component dev \
     >>"$work/install.log" 2>&1 &&
   cmake -S "$dev_only/share/doc/cairn-dev/examples/rle-codec" -B "$work/dev-only-rle" \
     -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$dev_only" \
     -DCMAKE_DISABLE_FIND_PACKAGE_absl=ON -DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON \
     >"$work/dev-only-configure.log" 2>&1 &&
   cmake --build "$work/dev-only-rle" >"$work/dev-only-build.log" 2>&1; then
  pass "example rle-codec builds against the dev component alone (no plugins folder)"
else
  cat "$work/dev-only-configure.log" "$work/dev-only-build.log" >&2 2>/dev/null || true
  fail "example rle-codec does not build against the dev component alone"
fi

# The host component still comes with a plain find_package(Cairn).
mkdir -p "$work/host-project"
cat >"$work/host-project/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.20)
project(CairnHostCheck LANGUAGES CXX)
find_package(Cairn 0.1 REQUIRED)
if(NOT TARGET Cairn::cairn OR NOT TARGET Cairn::sdk)
  message(FATAL_ERROR "find_package(Cairn) gave no Cairn::cairn or Cairn::sdk")
endif()
EOF
if cmake -S "$work/host-project" -B "$work/host-project/build" -DCMAKE_PREFIX_PATH="$prefix" \
     >"$work/host-project.log" 2>&1; then
  pass "find_package(Cairn) from the moved install gives Cairn::cairn"
else
  cat "$work/host-project.log" >&2
  fail "find_package(Cairn) from the moved install"
fi

# ---- 3. the runner's refusals, the installed plugins -----------------------
refuses "an unknown argument" "unknown argument '--colour'" \
  --plugin "$plugin_dir/libcairn-storage-memory.so" --colour
refuses "a missing plugin file" "no such file" --plugin "$work/no-such-plugin.so"
refuses "an unknown option" "option 'colour' is not one that plugin 'memory' accepts" \
  --plugin "$plugin_dir/libcairn-storage-memory.so" --option colour=blue
for p in storage-memory codec-identity codec-zstd replication-none; do
  run "installed $p" --plugin "$plugin_dir/libcairn-$p.so"
done
run "installed cipher-none" --plugin "$plugin_dir/libcairn-cipher-none.so" --passthrough-cipher

# ---- 4. the moved libcairn-c and its plugin folder -------------------------
if cc -std=c11 -Wall -Werror -I"$prefix/include" -o "$work/capi_codec_check" \
     packaging/tests/capi_codec_check.c -L"$prefix/$libdir" -lcairn-c \
     -Wl,-rpath,"$prefix/$libdir" 2>"$work/capi-build.log"; then
  if [ -f "$work/rle-codec/libcairn-codec-rle.so" ]; then
    cp "$work/rle-codec/libcairn-codec-rle.so" "$plugin_dir/"
    if env -u CAIRN_PLUGIN_DIR "$work/capi_codec_check" rle >"$work/capi.log" 2>&1; then
      pass "the moved libcairn-c finds rle in the moved plugin folder"
    else
      cat "$work/capi.log" >&2
      fail "the moved libcairn-c does not find rle in $plugin_dir"
    fi
  fi
  env -u CAIRN_PLUGIN_DIR "$work/capi_codec_check" no-such-codec >"$work/capi-missing.log" 2>&1 || true
  if grep -qF "plugin folders searched: $plugin_dir" "$work/capi-missing.log"; then
    pass "a codec not found: the message lists the moved plugin folder"
  else
    cat "$work/capi-missing.log" >&2
    fail "a codec not found: the message does not list $plugin_dir"
  fi
else
  cat "$work/capi-build.log" >&2
  fail "a C program does not build against the moved libcairn-c"
fi

echo "SDK from a moved install:"
printf '  %s\n' "${summary[@]}"
exit $status
