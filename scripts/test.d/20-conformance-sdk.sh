#!/usr/bin/env bash
# A third party's view: install the SDK from the release build into a
# temporary prefix, build the out-of-tree example plugin
# (examples/plugins/rle-codec) against it with nothing but find_package(Cairn),
# and run the installed cairn-conformance on it and on the installed in-tree
# plugins. Prints a summary; exits non-zero on any failure.
set -euo pipefail
source "$(dirname "$0")/../lib/setup.sh"
cd "$CAIRN_ROOT"

build_dir=${CAIRN_BUILD_DIR:-$CAIRN_ROOT/build/release}
work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-sdk-XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

log "installing the SDK from $build_dir to a temporary prefix"
# The SDK's components only (cairn-dev, cairn-plugins, libcairn-c1): the
# server's component installs to absolute paths (/etc/cairn, the systemd
# folder) that a prefix does not move.
for component in dev plugins capi; do
  if ! cmake --install "$build_dir" --prefix "$prefix" --component "$component" \
        >>"$work/install.log" 2>&1; then
    cat "$work/install.log" >&2
    log "cmake --install --component $component failed"
    exit 1
  fi
done
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build_dir/CMakeCache.txt")
plugin_dir=$prefix/${libdir:-lib}/cairn/plugins

log "building examples/plugins/rle-codec out of tree against the installed SDK"
if ! cmake -S examples/plugins/rle-codec -B "$work/build" -G Ninja \
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
      >"$work/configure.log" 2>&1; then
  cat "$work/configure.log" >&2
  log "configuring the example against the installed SDK failed"
  exit 1
fi
cmake --build "$work/build" >"$work/build.log" 2>&1 || {
  cat "$work/build.log" >&2
  log "building the example failed"
  exit 1
}

runner=$prefix/bin/cairn-conformance
declare -a summary=()
status=0
run() {  # run <label> <runner arguments...>
  local label=$1
  shift
  local out=$work/run-$(echo "$label" | tr ' /' '__').log
  if "$runner" "$@" >"$out" 2>&1; then
    summary+=("PASS  $label  ($(grep -o '[0-9]* passed, [0-9]* failed, [0-9]* skipped' "$out" | tail -1))")
  else
    summary+=("FAIL  $label")
    grep -E 'Failure|FAILED|cannot load|error' "$out" | head -40 >&2 || true
    status=1
  fi
}

run "example rle codec (out of tree)" --plugin "$work/build/libcairn-codec-rle.so"
run "example rle codec, min-run=8" --plugin "$work/build/libcairn-codec-rle.so" --option min-run=8
# The installed in-tree plugins must load and pass from the install too.
for p in storage-memory codec-identity codec-zstd replication-none; do
  run "installed $p" --plugin "$plugin_dir/libcairn-$p.so"
done
run "installed cipher-none" --plugin "$plugin_dir/libcairn-cipher-none.so" --passthrough-cipher

echo "conformance from the installed SDK:"
printf '  %s\n' "${summary[@]}"
exit $status
