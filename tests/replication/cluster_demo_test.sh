#!/usr/bin/env bash
# scripts/cluster end to end (ctest scripts.cluster_demo): start 3 etcd
# members and 3 cairnd nodes, append, kill -9 the primary and see another
# elected holding every acknowledged event, bring the old one back as a
# replica that catches up, stop. Bounded: each step has its own timeout.
#
#   tests/replication/cluster_demo_test.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export CAIRN_BUILD_DIR=${1:?usage: cluster_demo_test.sh BUILD_DIR}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cairn-cluster-demo-XXXXXX")
export CAIRN_CLUSTER_DIR=$tmp/demo  # `start` makes it afresh; outputs in $tmp
cluster=$root/scripts/cluster
if ! command -v etcd >/dev/null; then
  echo "cluster_demo_test: etcd is not installed (scripts/packages.txt has etcd-server)" >&2
  exit 1
fi
# A base whose 15 ports (3 nodes x 3, 3 etcd members x 2) are all free,
# in 10000-19905: below the ephemeral range (32768 and up here), where an
# outgoing connection of a test running beside this one can take a port
# between this check and the node's bind (a CI run failed so: "cannot
# listen on 127.0.0.1:35780: bind: Address already in use"), and below
# fault-run's default FAULT_PORTS (20000-31999). A port is only checked
# free here, not held, until its process binds it.
for _ in $(seq 50); do
  base=$((10000 + RANDOM % 9800))
  busy=0
  for p in $base $((base + 1)) $((base + 2)) $((base + 10)) $((base + 11)) $((base + 12)) \
    $((base + 20)) $((base + 21)) $((base + 22)) $((base + 100)) $((base + 101)) \
    $((base + 102)) $((base + 103)) $((base + 104)) $((base + 105)); do
    if ss -Htan "( sport = :$p )" | grep -q .; then busy=1; break; fi
  done
  [ $busy -eq 0 ] && break
done
export CAIRN_CLUSTER_BASE_PORT=$base
cleanup() {
  timeout 30 "$cluster" stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "cluster_demo_test: $*" >&2
  tail -n 20 "$CAIRN_CLUSTER_DIR"/n*/cairnd.log >&2 || true
  exit 1
}
step() {  # SECONDS NAME ARGS...: runs scripts/cluster ARGS, prints its output
  local seconds=$1 name=$2
  shift 2
  echo "==> scripts/cluster $*"
  timeout "$seconds" "$cluster" "$@" >"$tmp/$name.out" 2>&1 ||
    { cat "$tmp/$name.out" >&2; fail "'scripts/cluster $*' failed"; }
  cat "$tmp/$name.out"
}

step 60 start start
old=$(sed -n 's/^Primary: \(n[123]\) .*/\1/p' "$tmp/start.out")
[ -n "$old" ] || fail "start named no primary"
step 30 append append 20
grep -q "appended 20 events to 'demo'" "$tmp/append.out" || fail "append"
step 60 failover failover
grep -q "^New primary: n[123] after [0-9]* ms .*: 20 event(s)\.$" \
  "$tmp/failover.out" || fail "failover did not keep the 20 events"
new=$(sed -n 's/^New primary: \(n[123]\) .*/\1/p' "$tmp/failover.out")
[ "$new" != "$old" ] || fail "the killed primary $old is primary again"
step 60 restart restart "$old"
grep -q "^$old is back: replica$" "$tmp/restart.out" || fail "$old did not rejoin as a replica"
step 30 append2 append 5
# Every node reaches the same written and committed positions, and none is
# down (at most 150 polls).
for _ in $(seq 150); do
  step 10 status status >/dev/null
  positions=$(awk '{ print $(NF-2), $NF }' "$tmp/status.out" | sort -u | wc -l)
  if [ "$positions" -eq 1 ] && ! grep -q "down\|not answering" "$tmp/status.out"; then
    break
  fi
  sleep 0.2
done
cat "$tmp/status.out"
[ "$positions" -eq 1 ] || fail "the nodes did not reach the same positions"
[ "$(grep -c primary "$tmp/status.out")" -eq 1 ] || fail "not exactly one primary"
step 60 stop stop
for n in n1 n2 n3; do
  if kill -0 "$(cat "$CAIRN_CLUSTER_DIR/$n/cairnd.pid")" 2>/dev/null; then fail "$n still runs after stop"; fi
done
echo "cluster_demo_test: passed (primary $old, then $new)"
