#!/usr/bin/env bash
# Fault tests with the history checker (docs/replication.md, "Fault tests
# and the checker"), short and bounded (about three minutes: the runs go in
# two lanes side by side, below): a single cairnd
# on mmaplog (fsync = always) under load from 16 clients,
#   1. on loopback: kill -9 and restart three times, SIGSTOP/SIGCONT once,
#      every sync failing with EIO (libfiu) and a restart once;
#   2. in network namespaces (needs root): a full partition, one-way
#      partitions each way, and a kill -9;
# then a 3-node logship group (ack = quorum, topologies/logship-3-quorum.conf)
#   3. on loopback: kill -9 of a replica, SIGSTOP of a replica, failing
#      syncs on a replica, a failover
#      (kill -9 of the primary, `cairn promote` of another node, the old
#      primary back as a replica) and one by SIGSTOP of the primary;
#      and under ack = sync (topologies/logship-3-sync.conf): SIGSTOP and
#      failing syncs of a replica, a failover; and with a sync set that
#      leaves n3 out (logship-3-sync-two.conf): two failovers and a kill -9
#      of a replica; and under ack = async (logship-3-async.conf), where a
#      failover may drop acknowledged appends (counted, not violations):
#      two failovers and a kill -9 of a replica;
#   4. in network namespaces: the primary cut from its peers (it must stop
#      acknowledging), a partitioned replica, and a failover while the
#      primary is cut from its peers but still reached by clients;
# the same group electing its primary through a 3-member etcd of its own
# (topologies/logship-3-etcd.conf, no promote anywhere)
#   5. on loopback: kill -9 of the primary, kill -9 of etcd's leader,
#      SIGSTOP of the primary for longer than its lease, SIGSTOP of an etcd
#      member; under ack = async (logship-3-etcd-async.conf): two
#      elected failovers and a kill -9 of etcd's leader; and under ack =
#      sync with every node in the sync set (logship-3-etcd-sync.conf):
#      two elected failovers and a kill -9 of a replica, each with another
#      node stopped beside it (--overlap-stop); and with
#      slow-member-timeout 1 s (logship-3-etcd-sync-slow.conf): SIGSTOP and
#      kill -9 of a replica, each taken out of the sync set and back;
#   6. in network namespaces: the primary cut from etcd only, the primary
#      cut from its peers, the primary partitioned;
# each followed by the checker over the history and every node's log; and
#   7. a negative control: the same on the memory storage plugin, which
#      forgets everything on kill -9, must fail with lost-ack violations,
#      and with seen-lost ones (its subscribers saw events that are gone).
# The long version: scripts/soak-replication N.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
run="$root/tests/replication/fault-run"
status=0
# Bad arguments: exit 2 and a message naming what was wrong.
expect_refusal() {
  local want=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if [ $rc -ne 2 ] || [[ $out != *"$want"* ]]; then
    echo "==> '$*' exited $rc without '$want': $(head -3 <<<"$out")" >&2
    status=1
  fi
}
expect_refusal "unknown fault kind 'bogus'" "$run" --kinds kill9,bogus
expect_refusal "fault 'failover-peers' needs --netns" "$run" --kinds failover-peers
expect_refusal "fault 'failover' needs a topology of two nodes or more" "$run" --kinds failover
expect_refusal "fault 'etcd-kill9' needs a topology that runs etcd" "$run" --kinds etcd-kill9
expect_refusal "'x' is not a non-negative integer" "$run" --faults x
expect_refusal "fault 'failover-peers' does not apply to topology logship-3-etcd-sync.conf" \
  "$run" --netns --kinds failover-peers \
  --topology "$root/tests/replication/topologies/logship-3-etcd-sync.conf"
expect_refusal "--round takes a positive integer, not '0'" "$root/scripts/soak-replication" --round 0
expect_refusal "FAULT_PORTS must be LOW-HIGH" env FAULT_PORTS=7000 "$run" --faults 1
# SIGTERM ends the workload as its deadline would, and fault-run relies on
# it to end the load after the last fault: here with a minute's duration
# and no server (its clients only fail to connect), it must stop within
# 10 s of the signal, exit 0 (--min-ok 0) and say that a signal ended it.
# (timeout sends SIGTERM after 1 s, SIGKILL 10 s later: exit 137.)
workload_stops_on_sigterm() {
  local dir rc=0
  dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-workload-stop.XXXXXX")
  timeout --preserve-status --kill-after=10 1 \
    "$root/build/release/bin/cairn-fault-workload" --servers 127.0.0.1:9 \
    --history "$dir/history.jsonl" --duration-ms 60000 --min-ok 0 \
    --connect-timeout-ms 200 2>"$dir/err.txt" || rc=$?
  if [ $rc -ne 0 ] || ! grep -q "stopped by a signal" "$dir/err.txt"; then
    echo "==> cairn-fault-workload after SIGTERM: exit $rc (137: it ignored SIGTERM for 10 s), $(cat "$dir/err.txt")" >&2
    status=1
  fi
  rm -rf "$dir"
}
workload_stops_on_sigterm
# Each run in namespaces, as root or through sudo.
run_netns() {
  if [ "$(id -u)" -eq 0 ]; then
    "$run" --netns "$@" || status=1
  elif sudo -n true 2>/dev/null; then
    sudo -n "$run" --netns "$@" || status=1
  else
    echo "==> fault test in network namespaces NOT RUN: needs root or sudo (CAP_NET_ADMIN)" >&2
    status=1
  fi
}
group=(--topology "$root/tests/replication/topologies/logship-3-quorum.conf")
etcd_group=(--topology "$root/tests/replication/topologies/logship-3-etcd.conf")

# The runs go in two lanes side by side: most of a run's time is waiting
# (holds, gaps, restarts, elections), not CPU. Each lane picks loopback
# ports from its own range (FAULT_PORTS), and namespaces are named after
# the run's pid, so the lanes share nothing but the machine.
lane_a() {
  local status=0
  export FAULT_PORTS=20000-25999
  "$run" --faults 5 --kinds kill9,kill9,stop,kill9,syncfail --hold-ms 1500 --gap-ms 800 || status=1
  "$run" "${group[@]}" --faults 5 --kinds kill9,stop,syncfail,failover,failover-stop \
    --hold-ms 1500 --gap-ms 800 || status=1
  # The same group under ack = sync (every node in the sync set).
  "$run" --topology "$root/tests/replication/topologies/logship-3-sync.conf" \
    --faults 3 --kinds stop,syncfail,failover --hold-ms 1500 --gap-ms 800 || status=1
  "$run" "${etcd_group[@]}" --faults 4 --kinds failover,etcd-kill9,failover-stop,etcd-stop \
    --hold-ms 2000 --gap-ms 800 || status=1
  # ack = async under etcd: an election may drop what the deposed primary
  # acknowledged alone (counted, --superseded-acks).
  "$run" --topology "$root/tests/replication/topologies/logship-3-etcd-async.conf" \
    --faults 3 --kinds failover,etcd-kill9,failover-stop --hold-ms 2000 --gap-ms 800 || status=1
  # ack = sync under etcd with slow-member-timeout 1 s: a replica stopped
  # for 2 s (inside peer-timeout) leaves the sync set for holding appends
  # back (the topology requires that log line) and comes back (its
  # cluster_settled waits for the sync set in etcd to be whole).
  "$run" --topology "$root/tests/replication/topologies/logship-3-etcd-sync-slow.conf" \
    --faults 2 --kinds stop,kill9 --hold-ms 2000 --gap-ms 800 || status=1
  negative_control || status=1
  return $status
}
lane_b() {
  local status=0
  export FAULT_PORTS=26000-31999
  # ack = async: a failover drops what the old primary acknowledged and no
  # replica got; the checker counts those (--superseded-acks) and holds every
  # other rule.
  "$run" --topology "$root/tests/replication/topologies/logship-3-async.conf" \
    --faults 3 --kinds failover,kill9,failover-stop --hold-ms 1500 --gap-ms 800 || status=1
  # n3 outside the sync set: each failover must promote the other sync-set
  # member, even when n3 holds more.
  "$run" --topology "$root/tests/replication/topologies/logship-3-sync-two.conf" \
    --faults 3 --kinds failover,kill9,failover --hold-ms 1500 --gap-ms 800 || status=1
  run_netns --faults 4 --kinds partition,oneway-in,kill9,oneway-out --hold-ms 2500 --gap-ms 800
  run_netns "${group[@]}" --faults 3 --kinds peers,partition,failover-peers \
    --hold-ms 2000 --gap-ms 800
  run_netns "${etcd_group[@]}" --faults 3 --kinds failover-etcd,peers,failover-partition \
    --hold-ms 2500 --gap-ms 800
  # ack = sync under etcd, every node in the sync set: the elected primary
  # takes the lost one out of the set in etcd and acknowledges again. Two
  # faults at a time (--overlap-stop): another node is stopped beside each.
  "$run" --topology "$root/tests/replication/topologies/logship-3-etcd-sync.conf" \
    --faults 3 --kinds failover,kill9,failover-stop --overlap-stop \
    --hold-ms 2000 --gap-ms 800 || status=1
  return $status
}
# The memory storage forgets everything on kill -9: the checker must fail
# the run with lost-ack and seen-lost violations.
negative_control() {
  local negative rc=0
  negative=$(mktemp -d "${TMPDIR:-/tmp}/cairn-faults-negative.XXXXXX")
  if "$run" --topology "$root/tests/replication/topologies/single-memory.conf" \
      --faults 1 --kinds kill9 --hold-ms 1000 --gap-ms 1000 --workdir "$negative/run" \
      >"$negative/out.txt" 2>&1; then
    echo "==> negative control PASSED: the checker missed the memory store's lost acknowledgements" >&2
    rc=1
  elif ! grep -q "lost-ack=" "$negative/run/check.txt" 2>/dev/null; then
    echo "==> negative control failed without lost-ack violations:" >&2
    tail -20 "$negative/out.txt" >&2
    rc=1
  elif ! grep -q "seen-lost=" "$negative/run/check.txt" 2>/dev/null; then
    echo "==> negative control failed without seen-lost violations (subscribers):" >&2
    tail -20 "$negative/out.txt" >&2
    rc=1
  else
    echo "==> negative control: $(tail -1 "$negative/run/check.txt")"
  fi
  rm -rf "$negative"
  return $rc
}
source "$root/scripts/lib/side_by_side.sh"
side_by_side_dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-fault-lanes.XXXXXX")
side_by_side "lane a" lane_a &
side_by_side "lane b" lane_b &
wait
side_by_side_status "lane a" "lane b" || status=1
rm -rf "$side_by_side_dir"
exit $status
