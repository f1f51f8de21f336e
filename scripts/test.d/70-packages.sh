#!/usr/bin/env bash
# The packages a site installs, checked as a site would use them:
#  1. cpack builds the Debian packages from the release build folder (no
#     rebuild); lintian must report no error (its warnings are printed);
#  2. dpkg -i installs them; the cairn user, /var/lib/cairn (0700), the
#     conffile and the unit are checked, the unit with systemd-analyze verify;
#  3. the packaged cairnd runs as user cairn with the unit's command line,
#     working folder and sandbox (ProtectSystem=strict with its
#     ReadWritePaths, PrivateTmp: emulated with a mount namespace, as no
#     systemd runs here) on loopback ports of its own; /health, then an append
#     and a read through the packaged cairn;
#  4. examples/plugins/rle-codec builds against the installed cairn-dev and
#     passes the installed cairn-conformance; put in the packaged plugin folder
#     it is found, with no configuration, by cairn, by libcairn-c (a C program
#     built against cairn-dev) and by cairnd, which then serves an encrypted
#     store whose keyring the cairn user made in /var/lib/cairn/keys;
#  5. dpkg -r, then dpkg -P: nothing of the packages is left but the state
#     folder /var/lib/cairn, which purge keeps;
#  6. dotnet pack makes Akka.Persistence.Cairn (native library, reference
#     config, XML docs, README, metadata), and examples/order-system runs
#     from it through a local folder feed.
# Needs root (or sudo) for dpkg. Refuses to run where any of the packages is
# installed, or /var/lib/cairn exists: that is a site's, not this test's.
set -euo pipefail
source "$(dirname "$0")/../lib/setup.sh"
cd "$CAIRN_ROOT"

build=${CAIRN_BUILD_DIR:-$CAIRN_ROOT/build/release}
packages=(cairn cairnd libcairn-c1 cairn-dev cairn-plugins)
state=/var/lib/cairn
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

summary=()
status=0
pass() { summary+=("PASS  $*"); }
fail() { summary+=("FAIL  $*"); status=1; log "FAIL: $*"; }
check() {  # check <label> <command...>: runs the command, records the result
  local label=$1
  shift
  if "$@"; then pass "$label"; else fail "$label"; fi
}

for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed; then
    log "package $p is installed on this machine; this test installs and purges them: remove it first"
    exit 1
  fi
done
if [ -e "$state" ]; then
  log "$state exists: a site's store may be there; this test creates and deletes it: move it aside first"
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cairn-packages-XXXXXX")
created_user=0
getent passwd cairn >/dev/null || created_user=1
server_pid=""
plugin_dir=""
# Leaves the machine as it was: no package, no state folder, and no user
# cairn unless it was there before.
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$plugin_dir" ]; then $sudo rm -f "$plugin_dir/libcairn-codec-rle.so"; fi
  $sudo dpkg -P "${packages[@]}" >/dev/null 2>&1 || true
  $sudo rm -rf "$state"
  if [ $created_user -eq 1 ] && getent passwd cairn >/dev/null; then
    $sudo deluser --quiet --system cairn >/dev/null 2>&1 || true
  fi
  if [ $created_user -eq 1 ] && getent group cairn >/dev/null; then
    $sudo delgroup --quiet --system cairn >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Every path named *cairn* outside the folders tests and builds write to;
# compared before the install and after the purge.
named_cairn() {
  find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /work -o -path /tmp \
    -o -path /var/tmp -o -path "$CAIRN_ROOT" -o -path /root -o -path /home \) -prune \
    -o -iname '*cairn*' -print 2>/dev/null | sort
}
named_cairn >"$work/before.list"

# ---- 1. build the packages --------------------------------------------------
log "cpack -G DEB in $build"
rm -rf "$build/packages"
if ! (cd "$build" && cpack -G DEB >"$work/cpack.log" 2>&1); then
  cat "$work/cpack.log" >&2
  log "cpack failed"
  exit 1
fi
debs=()
for p in "${packages[@]}"; do
  f=$(ls "$build"/packages/"${p}"_*.deb 2>/dev/null | head -1)
  if [ -z "$f" ]; then
    fail "cpack made no package $p"
    continue
  fi
  debs+=("$f")
done
[ ${#debs[@]} -eq ${#packages[@]} ] && pass "cpack made ${packages[*]}"
ls -l "${debs[@]}" >&2

version=$(sed -n 's/^project(Cairn VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
for f in "${debs[@]}"; do
  v=$(dpkg-deb -f "$f" Version)
  [ "${v%-*}" = "$version" ] || fail "$(basename "$f") has version $v, not $version (CMakeLists.txt)"
done
deps=$(dpkg-deb -f "$build"/packages/cairnd_*.deb Depends)
check "cairnd's Depends are computed (dpkg-shlibdeps): $deps" \
  grep -q 'libc6' <<<"$deps"

log "lintian"
# lintian exits non-zero on errors only (--fail-on error); warnings are listed.
if lintian --fail-on error --tag-display-limit 0 "${debs[@]}" >"$work/lintian.log" 2>&1; then
  pass "lintian: no error ($(grep -c '^W:' "$work/lintian.log" || true) warnings)"
else
  fail "lintian reports errors"
fi
sed 's/^/    lintian: /' "$work/lintian.log" >&2

# ---- 2. install --------------------------------------------------------------
log "dpkg -i ${packages[*]}"
if ! $sudo dpkg -i "${debs[@]}" >"$work/dpkg-i.log" 2>&1; then
  cat "$work/dpkg-i.log" >&2
  fail "dpkg -i"
  exit 1
fi
pass "dpkg -i"
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build/CMakeCache.txt")
plugin_dir=/usr/$libdir/cairn/plugins
unit=/lib/systemd/system/cairnd.service
check "user cairn is a system user" \
  bash -c '[ "$(getent passwd cairn | cut -d: -f3)" -lt 1000 ]'
for d in "$state" "$state/keys"; do
  check "$d is owned by cairn, mode 700" \
    bash -c "[ \"\$(stat -c '%U:%G %a' '$d')\" = 'cairn:cairn 700' ]"
done
check "/etc/cairn/cairnd.ini is a conffile of cairnd" \
  bash -c "dpkg-query -W -f='\${Conffiles}' cairnd | grep -q '/etc/cairn/cairnd.ini'"
check "every key of /etc/cairn/cairnd.ini is commented out" \
  bash -c "! grep -Ev '^[[:space:]]*(#|\\[[a-z]+\\][[:space:]]*\$|\$)' /etc/cairn/cairnd.ini"
check "plugins in $plugin_dir" test -e "$plugin_dir/libcairn-storage-mmaplog.so"
if systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 && [ ! -s "$work/verify.log" ]; then
  pass "systemd-analyze verify $unit"
else
  cat "$work/verify.log" >&2
  fail "systemd-analyze verify $unit"
fi

# systemd's own rating of the sandbox (0 = locked down, 10 = exposed; the
# unit before hardening rated 8.5).
exposure=$(systemd-analyze security --offline=true "$unit" 2>/dev/null |
  sed -n 's/.*Overall exposure level for cairnd.service: \([0-9.]*\).*/\1/p')
check "systemd-analyze security rates the unit's exposure ${exposure:-?} (at most 4.0)" \
  awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 4.0) }'

# The unit's settings, as systemd would read them.
unit_value() { sed -n "s/^$1=//p" "$unit" | tail -1; }
read -r -a exec_start <<<"$(unit_value ExecStart)"
working_dir=$(unit_value WorkingDirectory)
read -r -a writable <<<"$(unit_value ReadWritePaths)"
check "the unit runs the installed binary (${exec_start[0]})" test -x "${exec_start[0]}"
check "the unit runs as User=cairn" test "$(unit_value User)" = cairn
check "the unit has ProtectSystem=strict" test "$(unit_value ProtectSystem)" = strict

# Runs a command as the unit would: in a mount namespace where / is read-only
# but for ReadWritePaths, /tmp is private, the working folder is the unit's,
# and the user is cairn without new privileges.
binds=""
for p in "${writable[@]}"; do binds+="mount --bind '$p' '$p' && "; done
unit_sandbox=($sudo unshare --mount --propagation private -- sh -c
  "${binds} mount -o remount,bind,ro / && mount -t tmpfs -o mode=1777 tmpfs /tmp &&
   cd '$working_dir' && exec setpriv --reuid=cairn --regid=cairn --init-groups --no-new-privs -- \"\$@\""
  sandbox)
run_as_unit() { "${unit_sandbox[@]}" "$@"; }
# A folder of cairn's under /etc, as a keyring folder /etc/cairn/keys would
# be: writable by cairn outside the sandbox, not inside it (the reason the
# keyring lives in /var/lib/cairn/keys).
etc_is_read_only() {
  local probe=/etc/cairn/probe-keys rc=0
  $sudo install -d -o cairn -g cairn -m 0700 "$probe"
  $sudo runuser -u cairn -- touch "$probe/outside" || rc=1
  if run_as_unit touch "$probe/inside" 2>/dev/null; then rc=1; fi
  $sudo rm -rf "$probe"
  return $rc
}
state_is_writable() { run_as_unit sh -c "touch $state/probe && rm $state/probe"; }
check "in the unit's sandbox a cairn-owned folder under /etc is read-only" etc_is_read_only
check "in the unit's sandbox $state is writable" state_is_writable

# Starts the packaged cairnd as the unit would, plus loopback ports of its own
# and the given --set overrides; sets server_pid, port, http_port.
start_cairnd() {
  local ports=$state/test-ports
  $sudo rm -rf "$ports"
  $sudo install -d -o cairn -g cairn -m 0700 "$ports"
  # Not through a function: $! must be the process that becomes cairnd
  # (unshare execs sh, which execs setpriv, which execs cairnd).
  "${unit_sandbox[@]}" "${exec_start[@]}" --port 0 --port-file "$ports/port" \
    --http-port 0 --http-port-file "$ports/http-port" "$@" \
    >"$work/cairnd.log" 2>&1 &
  server_pid=$!
  local i
  for i in $(seq 1 200); do
    if $sudo test -s "$ports/http-port" && $sudo test -s "$ports/port"; then
      port=$($sudo cat "$ports/port")
      http_port=$($sudo cat "$ports/http-port")
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$work/cairnd.log" >&2
  return 1
}
stop_cairnd() {
  kill -TERM "$server_pid"
  local rc=0
  wait "$server_pid" || rc=$?
  server_pid=""
  $sudo rm -rf "$state/test-ports"
  [ $rc -eq 0 ] || { cat "$work/cairnd.log" >&2; return 1; }
}

# ---- 3. the packaged cairnd, as installed ------------------------------------
log "starting the packaged cairnd as user cairn with /etc/cairn/cairnd.ini"
if start_cairnd; then
  pass "cairnd started as the unit would (port $port, HTTP $http_port)"
  check "GET /health answers ok" \
    bash -c "curl -sf http://127.0.0.1:$http_port/health | grep -q '\"status\":\"ok\"'"
  check "cairnd runs as user cairn" \
    test "$(ps -o user= -p "$(pgrep -x cairnd -P "$server_pid" || echo "$server_pid")" | xargs)" = cairn
  check "append through the packaged cairn" bash -c \
    "echo '{\"type\": \"OrderPlaced\", \"data\": {\"id\": 1}, \"tags\": [\"order\"]}' |
       /usr/bin/cairn --server 127.0.0.1:$port append order-1 --expect none"
  check "read through the packaged cairn" bash -c \
    "/usr/bin/cairn --server 127.0.0.1:$port read order-1 --json | grep -q OrderPlaced"
  check "cairnd stops cleanly on SIGTERM" stop_cairnd
  check "the store is $state/data, owned by cairn" \
    bash -c "$sudo test -d $state/data && [ \"\$($sudo stat -c %U $state/data)\" = cairn ]"
else
  fail "the packaged cairnd did not start"
fi

# ---- 4. a third-party plugin against cairn-dev, in every host ---------------
log "building examples/plugins/rle-codec against the installed cairn-dev"
if cmake -S examples/plugins/rle-codec -B "$work/rle" -G Ninja -DCMAKE_BUILD_TYPE=Release \
     >"$work/rle-configure.log" 2>&1 &&
   cmake --build "$work/rle" >"$work/rle-build.log" 2>&1; then
  pass "rle-codec builds against the installed cairn-dev"
  check "find_package(Cairn) names the installed conformance runner" \
    grep -q '"/usr/bin/cairn-conformance"' "$work/rle/CTestTestfile.cmake"
  if ctest --test-dir "$work/rle" --output-on-failure >"$work/rle-ctest.log" 2>&1; then
    pass "rle-codec passes the installed cairn-conformance"
  else
    cat "$work/rle-ctest.log" >&2
    fail "rle-codec fails the installed cairn-conformance"
  fi
  check "cmake --install puts rle in the packaged plugin folder" bash -c \
    "$sudo cmake --install '$work/rle' >/dev/null && test -e '$plugin_dir/libcairn-codec-rle.so'"

  check "cairn finds rle in the plugin folder" bash -c \
    "echo '{\"type\": \"Note\", \"data\": {\"text\": \"aaaaaaaaaaaaaaaa\"}}' |
       /usr/bin/cairn --data '$work/cli-store' --set storage.segment-size=1MiB --set codec.plugin=rle append notes >/dev/null &&
     /usr/bin/cairn --data '$work/cli-store' --set storage.segment-size=1MiB --set codec.plugin=rle read notes | grep -q aaaaaaaa"

  if cc -std=c11 -Wall -Werror -o "$work/capi_codec_check" packaging/tests/capi_codec_check.c \
       -lcairn-c 2>"$work/capi-build.log"; then
    check "libcairn-c finds rle in the plugin folder" "$work/capi_codec_check" rle
  else
    cat "$work/capi-build.log" >&2
    fail "a C program does not build against cairn-dev's libcairn-c"
  fi

  log "encrypted site: keyring made by the cairn user, cairnd with aes-gcm and rle"
  keyring=$state/keys/keyring
  check "sudo -u cairn cairn keys new (as the docs say; runuser here)" \
    $sudo runuser -u cairn -- /usr/bin/cairn keys new --keyring "$keyring"
  check "the keyring is the cairn user's, mode 600" \
    bash -c "[ \"\$($sudo stat -c '%U %a' $keyring)\" = 'cairn 600' ]"
  # The README's edit of the conffile, word for word.
  $sudo sed -i '/^\[cipher\]/,/^\[replication\]/ { s/^#plugin = none/plugin = aes-gcm/; s/^#keyring = /keyring = / }' \
    /etc/cairn/cairnd.ini
  check "the README's sed turns the cipher on in cairnd.ini" bash -c \
    "grep -qx 'plugin = aes-gcm' /etc/cairn/cairnd.ini && grep -qx 'keyring = $keyring' /etc/cairn/cairnd.ini &&
     [ \$(grep -c '^plugin' /etc/cairn/cairnd.ini) -eq 1 ]"
  if start_cairnd --set store.path=./sealed --set codec.plugin=rle; then
    check "sealed append through cairnd (keyring lock and usage files written)" bash -c \
      "echo '{\"type\": \"OrderPaid\", \"data\": {\"id\": 1, \"amount\": 4.5}}' |
         /usr/bin/cairn --server 127.0.0.1:$port append order-2 --expect none"
    check "sealed read through cairnd" bash -c \
      "/usr/bin/cairn --server 127.0.0.1:$port read order-2 --json | grep -q OrderPaid"
    check "cairnd stops cleanly on SIGTERM" stop_cairnd
    check "the seal counts are in $keyring.usage" $sudo test -s "$keyring.usage"
  else
    fail "cairnd with aes-gcm and rle did not start"
  fi
  $sudo rm -f "$plugin_dir/libcairn-codec-rle.so"
else
  cat "$work"/rle-*.log >&2
  fail "rle-codec does not build against the installed cairn-dev"
fi

# ---- 5. remove, purge --------------------------------------------------------
log "dpkg -r, then dpkg -P"
if $sudo dpkg -r "${packages[@]}" >"$work/dpkg-r.log" 2>&1; then
  pass "dpkg -r"
  check "removed: the binaries are gone" bash -c '! ls /usr/bin/cairn /usr/bin/cairnd /usr/bin/cairn-conformance 2>/dev/null'
  check "removed: the conffile stays until purge" test -e /etc/cairn/cairnd.ini
else
  cat "$work/dpkg-r.log" >&2
  fail "dpkg -r"
fi
if $sudo dpkg -P "${packages[@]}" >"$work/dpkg-p.log" 2>&1; then
  pass "dpkg -P"
else
  cat "$work/dpkg-p.log" >&2
  fail "dpkg -P"
fi
named_cairn >"$work/after.list"
left=$(comm -13 "$work/before.list" "$work/after.list" | grep -v "^$state\(/\|\$\)" || true)
if [ -z "$left" ]; then
  pass "purged: nothing named cairn is left but $state"
else
  fail "purged, but left behind: $(echo $left)"
fi
check "purged: $state and its store are kept" $sudo test -d "$state/data"

# ---- 6. the NuGet package, and the order system from a local feed ----------
if command -v dotnet >/dev/null; then
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
  feed=$CAIRN_ROOT/build/nuget
  rm -rf "$feed"
  log "dotnet pack Akka.Persistence.Cairn into $feed"
  # The native library stripped, as in the .deb (the build tree's keeps its
  # debug info: 20 MiB instead of 1).
  mkdir -p "$work/native"
  strip --strip-unneeded -o "$work/native/libcairn-c.so" "$build/lib/libcairn-c.so"
  if dotnet pack hosts/dotnet/src/Akka.Persistence.Cairn -c Release -o "$feed" \
       -p:CairnNativeDir="$work/native" -nologo -v quiet >"$work/pack.log" 2>&1; then
    nupkg=$feed/Akka.Persistence.Cairn.$version.nupkg
    check "dotnet pack made Akka.Persistence.Cairn.$version.nupkg" test -f "$nupkg"
    unzip -l "$nupkg" >"$work/nupkg.list" 2>&1 || true
    for entry in runtimes/linux-x64/native/libcairn-c.so lib/net10.0/Akka.Persistence.Cairn.dll \
                 lib/net10.0/Akka.Persistence.Cairn.xml README.md copyright; do
      check "the package holds $entry" grep -q " $entry\$" "$work/nupkg.list"
    done
    nuspec=$(unzip -p "$nupkg" Akka.Persistence.Cairn.nuspec)
    for field in "<version>$version</version>" "<license type=\"file\">copyright</license>" \
                 "<tags>" "<readme>README.md</readme>" "<repository type=\"git\""; do
      check "the nuspec has $field" grep -qF "$field" <<<"$nuspec"
    done
    check "reference.conf is embedded in the assembly" bash -c \
      "unzip -p '$nupkg' lib/net10.0/Akka.Persistence.Cairn.dll | grep -aq 'akka.persistence.journal.cairn'"

    log "examples/order-system from the local feed"
    rm -rf build/order-system
    orders=$work/orders
    if dotnet build examples/order-system -c Release -p:CairnFeed="$feed" -nologo -v quiet \
         >"$work/orders-build.log" 2>&1; then
      pass "examples/order-system builds from the package"
      app=build/order-system/bin/Release/net10.0/OrderSystem.dll
      check "examples/order-system references the package, not the project" bash -c \
        "grep -q '\"Akka.Persistence.Cairn/$version\"' build/order-system/bin/Release/net10.0/OrderSystem.deps.json &&
         grep -q '\"type\": \"package\"' <(grep -A2 '\"Akka.Persistence.Cairn/$version\": {' build/order-system/bin/Release/net10.0/OrderSystem.deps.json)"
      check "order-system demo runs on the package's libcairn-c" bash -c \
        "timeout 120 dotnet $app --data '$orders' demo >'$work/orders.log' 2>&1 &&
         grep -q 'projection: up to' '$work/orders.log'"
      check "order-system recovers in a new process" bash -c \
        "timeout 120 dotnet $app --data '$orders' show order-1 | grep -q 'order-1: Shipped'"
    else
      cat "$work/orders-build.log" >&2
      fail "examples/order-system does not build from the package"
    fi
  else
    cat "$work/pack.log" >&2
    fail "dotnet pack"
  fi
else
  fail "dotnet is not installed: the NuGet package is not checked"
fi

echo "packages:"
printf '  %s\n' "${summary[@]}"
passed=$(printf '%s\n' "${summary[@]}" | grep -c '^PASS' || true)
failed=$(printf '%s\n' "${summary[@]}" | grep -c '^FAIL' || true)
echo "packages: $passed passed, $failed failed"
exit $status
