#!/usr/bin/env bash
# Runs the Akka.Persistence benchmark (bench/dotnet) side by side: Cairn
# embedded, Cairn remote (cairnd on loopback) and Akka.Persistence.Sql on
# SQLite. Not part of scripts/test: it takes minutes. Arguments go to the
# program (e.g. --events 10000 --events-many 1000 --actors 1,100).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/setup.sh"
cd "$CAIRN_ROOT"
build=${CAIRN_DOTNET_BUILD:-build/release}
case "$build" in /*) ;; *) build="$CAIRN_ROOT/$build" ;; esac
[ -f "$build/build.ninja" ] || cmake --preset release -S "$CAIRN_ROOT" >/dev/null
cmake --build "$build" --target cairn_c cairnd -j "$CAIRN_JOBS"
dotnet build bench/dotnet/CairnBench.csproj -c Release -p:CairnNativeDir="$build/lib" -v quiet -nologo
exec dotnet build/dotnet-bench/bin/Release/net10.0/CairnBench.dll --cairnd "$build/bin/cairnd" "$@"
