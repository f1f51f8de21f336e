# Shared by scripts/run and scripts/test: install what is missing, build.
# Sourced, not run. Honours CAIRN_JOBS (default: number of cores).

CAIRN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CAIRN_JOBS=${CAIRN_JOBS:-$(nproc)}

# Each line carries the time (UTC), so a log shows how long each part took.
log() { printf '==> %s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Installs the Debian packages listed in scripts/packages.txt that are not
# installed yet (non-interactive; needs root or sudo).
install_packages() {
  local wanted=() missing=() p
  mapfile -t wanted < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$CAIRN_ROOT/scripts/packages.txt")
  for p in "${wanted[@]}"; do
    p=$(echo "$p" | xargs)
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "Debian packages: all ${#wanted[@]} present"
    return 0
  fi
  log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Configures and builds a CMake preset (release by default).
build_preset() {
  local preset=${1:-release}
  shift || true
  log "configuring and building preset '$preset'"
  cmake --preset "$preset" -S "$CAIRN_ROOT" "$@" >/dev/null
  cmake --build "$CAIRN_ROOT/build/$preset" -j "$CAIRN_JOBS"
}

# Configures a sanitizer preset (asan or tsan) the one way every test stage
# does, so that stages sharing build/asan or build/tsan reuse each other's
# objects instead of regenerating with other options. The server is on for
# stage 35; CAIRN_BUILD_DOTNET=ON only adds libcairn-c (no .NET build here).
sanitizer_configure() {
  cmake --preset "$1" -S "$CAIRN_ROOT" -DCAIRN_BUILD_SERVER=ON \
    -DCAIRN_BUILD_DOTNET=ON >/dev/null
}
