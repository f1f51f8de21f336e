#!/usr/bin/env bash
# Failover of a 3-node logship group of cairnd processes on loopback.
# With COORDINATOR = static, the way an operator's script does it: kill -9
# of the primary's process (n1), then `cairn --server <n2> promote` until it
# succeeds, then `cairn --server <n2> append` until one append is
# acknowledged. With COORDINATOR = etcd, against a 3-member etcd on
# loopback (scripts/lib/etcd.sh) with `lease-ttl = 2s`: kill -9 of whichever
# node was elected, then the survivors are asked (`cairn cluster status`)
# until one is primary, then appended to until one append is acknowledged:
# detection (the lease running out) is in the figure. Every run starts a
# fresh group (mmaplog, fsync = always); prints each run and p50/p99 of the
# time from the kill to the acknowledged append (docs/benchmarks.md,
# "Replication").
#
# usage: bench/replication/cairnd_failover.sh BIN_DIR [RUNS] [ACK] [DIR]
#                                             [COORDINATOR]
#   BIN_DIR  holds cairnd and cairn (build/release/bin)
#   RUNS     default 20;  ACK: async | sync | quorum (default quorum)
#   DIR      parent of the scratch folder (default /var/tmp, a disk)
#   COORDINATOR  static (default) | etcd (needs etcd, Debian's etcd-server)
set -euo pipefail

bin=${1:?usage: cairnd_failover.sh BIN_DIR [RUNS] [ACK] [DIR] [COORDINATOR]}
runs=${2:-20}
ack=${3:-quorum}
parent=${4:-/var/tmp}
coordinator=${5:-static}
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "cairnd_failover: RUNS '$runs' is not a whole number above 0" >&2; exit 2; }
case $ack in async | sync | quorum) ;; *)
  echo "cairnd_failover: ACK '$ack' is not one of async, sync, quorum" >&2; exit 2 ;;
esac
[ -d "$parent" ] || { echo "cairnd_failover: DIR '$parent' is not a folder" >&2; exit 2; }
case $coordinator in static | etcd) ;; *)
  echo "cairnd_failover: COORDINATOR '$coordinator' is not one of static, etcd" >&2; exit 2 ;;
esac
for tool in cairnd cairn; do
  [ -x "$bin/$tool" ] || { echo "cairnd_failover: no program $bin/$tool (build the cairnd and cairn_tool targets)" >&2; exit 2; }
done
if [ "$coordinator" = etcd ]; then
  command -v etcd >/dev/null || { echo "cairnd_failover: COORDINATOR etcd needs etcd (apt-get install etcd-server)" >&2; exit 2; }
  command -v jq >/dev/null || { echo "cairnd_failover: COORDINATOR etcd needs jq" >&2; exit 2; }
fi

work=$(mktemp -d "$parent/cairnd-failover-XXXXXX")
pids=()  # this run's cairnd processes, not yet reaped
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  if [ "$coordinator" = etcd ]; then etcd_cluster_stop "$work/etcd" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
now_ms() { echo "${EPOCHREALTIME/./}" | awk '{ printf "%.1f", $1 / 1000 }'; }
# Retries "$@" until it exits 0, for at most $1 seconds; 1 if it never did.
retry_for() {
  local seconds=$1; shift
  local give_up=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $give_up ] || return 1
  done
}
# The node of "$@" (names) whose server says it is primary; none: exit 1.
primary_of() {
  local n
  for n in "$@"; do
    [ "$("$bin/cairn" --server "127.0.0.1:${client[$n]}" cluster status --json 2>/dev/null |
      jq -r .role 2>/dev/null)" = primary ] && { echo "$n"; return 0; }
  done
  return 1
}
event() { echo '{"type":"BenchEvent","data":"'"$(printf 'p%.0s' $(seq 1 200))"'"}'; }
append_to() { event | "$bin/cairn" --server "127.0.0.1:$1" append "$2"; }
# Whether node port $1 serves stream $2 with $3 events (replicas serve
# committed events only).
serves() { [ "$("$bin/cairn" --server "127.0.0.1:$1" read "$2" 2>/dev/null | wc -l)" -ge "$3" ]; }

etcd_lines=""
if [ "$coordinator" = etcd ]; then
  source "$(dirname "$0")/../../scripts/lib/etcd.sh"
  # Six free ports in a row for the members' client and peer URLs.
  ETCD_DEMO_BASE_PORT=$(python3 -c '
import random, socket
for _ in range(200):
    base = random.randrange(20000, 30000, 2)
    try:
        for p in range(base, base + 6):
            s = socket.socket(); s.bind(("127.0.0.1", p)); s.close()
        print(base); break
    except OSError:
        pass')
  export ETCD_DEMO_BASE_PORT
  endpoints=$(etcd_cluster_start "$work/etcd") ||
    { echo "cairnd_failover: etcd did not start" >&2; exit 1; }
fi
echo "# cairnd_failover: $runs runs, ack = $ack, coordinator = $coordinator, $(uptime)"
echo "run total_ms kill_to_promoted_ms first_append_ms promote_tries healthy_cli_append_ms"  # etcd: promote_tries = status polls
totals=()
for run in $(seq 1 "$runs"); do
  dir=$work/run$run
  declare -A client=() listen=()
  peers=""
  for n in n1 n2 n3; do
    client[$n]=$(free_port); listen[$n]=$(free_port)
    peers+="${peers:+,}$n=127.0.0.1:${listen[$n]}"
  done
  addresses=""
  for n in n1 n2 n3; do addresses+="${addresses:+,}$n=127.0.0.1:${client[$n]}"; done
  declare -A pid=()
  for n in n2 n3 n1; do  # replicas first: a quorum primary waits for an ack
    mkdir -p "$dir/$n"
    role=replica; [ $n = n1 ] && role=primary
    if [ "$coordinator" = etcd ]; then
      etcd_lines="coordinator = etcd
etcd-endpoints = $endpoints
etcd-group = failover-run$run
lease-ttl = 2s"
    fi
    cat >"$dir/$n/site.ini" <<EOF
[store]
path = $dir/$n/data
[server]
listen = 127.0.0.1
port = ${client[$n]}
port-file = $dir/$n/port
[http]
port = off
[tls]
mode = off
[storage]
plugin = mmaplog
fsync = always
segment-size = 4MiB
[replication]
plugin = logship
node-id = $n
listen = 127.0.0.1:${listen[$n]}
peers = $peers
role = $role
$etcd_lines
ack = $ack
state-dir = $dir/$n/logship
client-addresses = $addresses
$( [ "$ack" = sync ] && echo "sync-set = n2,n3" )
EOF
    "$bin/cairnd" --config "$dir/$n/site.ini" --log-level error \
      >"$dir/$n/cairnd.log" 2>&1 &
    pid[$n]=$!; pids+=("$!")
    [ $n = n1 ] && [ "$coordinator" = static ] && continue
    retry_for 30 test -s "$dir/$n/port" ||
      { echo "cairnd_failover: $n did not start; see $dir/$n/cairnd.log" >&2; exit 1; }
  done
  retry_for 60 test -s "$dir/n1/port" ||
    { echo "cairnd_failover: n1 did not start" >&2; exit 1; }
  # old: the primary to kill; new: the node that takes over.
  old=n1 new=n2 others="n2 n3"
  if [ "$coordinator" = etcd ]; then
    old=$(retry_for 30 primary_of n1 n2 n3 && primary_of n1 n2 n3) ||
      { echo "cairnd_failover: no node was elected within 30 s; see $dir/*/cairnd.log" >&2; exit 1; }
    others=$(echo n1 n2 n3 | tr ' ' '\n' | grep -vx "$old" | tr '\n' ' ')
  fi
  for i in $(seq 1 20); do append_to "${client[$old]}" "before" >/dev/null; done
  # One append through the CLI to the healthy primary: the cost of a
  # `cairn` process and its connection, which every step below pays too.
  before=$(now_ms)
  append_to "${client[$old]}" before >/dev/null
  baseline=$(awk -v a="$before" -v b="$(now_ms)" 'BEGIN { printf "%.1f", b - a }')
  # Promote (and an election) refuses a node behind what the primary told
  # it was committed.
  for n in $others; do
    retry_for 30 serves "${client[$n]}" before 21 ||
      { echo "cairnd_failover: replica $n did not serve the 21 events" >&2; exit 1; }
  done
  killed=$(now_ms)
  kill -9 "${pid[$old]}"
  tries=0
  give_up=$((SECONDS + 30))
  if [ "$coordinator" = static ]; then
    until "$bin/cairn" --server "127.0.0.1:${client[n2]}" promote >/dev/null 2>&1; do
      tries=$((tries + 1))
      [ $SECONDS -lt $give_up ] || { echo "cairnd_failover: promote of n2 kept failing" >&2; exit 1; }
    done
  else
    # shellcheck disable=SC2086  # $others: two node names
    until new=$(primary_of $others); do
      tries=$((tries + 1))
      [ $SECONDS -lt $give_up ] || { echo "cairnd_failover: no survivor was elected within 30 s; see $dir/*/cairnd.log" >&2; exit 1; }
    done
  fi
  promoted=$(now_ms)
  retry_for 30 append_to "${client[$new]}" after ||
    { echo "cairnd_failover: $new acknowledged no append within 30 s" >&2; exit 1; }
  acked=$(now_ms)
  total=$(awk -v a="$killed" -v b="$acked" 'BEGIN { printf "%.1f", b - a }')
  totals+=("$total")
  awk -v r="$run" -v k="$killed" -v p="$promoted" -v a="$acked" -v t="$tries" \
    -v h="$baseline" \
    'BEGIN { printf "%d %.1f %.1f %.1f %d %s\n", r, a - k, p - k, a - p, t + 1, h }'
  kill -9 "${pid[n1]}" "${pid[n2]}" "${pid[n3]}" 2>/dev/null || true
  wait "${pid[n1]}" "${pid[n2]}" "${pid[n3]}" 2>/dev/null || true
  pids=()  # reaped: their ids may belong to someone else now
  rm -rf "$dir"
done
# Nearest rank: the value at ceil(p * n) of the sorted runs.
printf '%s\n' "${totals[@]}" | sort -n | awk '
  function rank(p) { r = int(p * NR); if (r < p * NR) r++; return v[r] }
  { v[NR] = $1 }
  END {
    printf "total ms: p50 %.1f, p99 %.1f, max %.1f over %d runs\n",
           rank(0.50), rank(0.99), v[NR], NR
  }'
echo "# done: $(uptime)"
