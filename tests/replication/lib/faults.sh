# Fault tooling for the replication fault tests (docs/replication.md,
# "Fault tests and the checker"). Sourced, not run; bash 5.
#
# Everything here touches only what it made itself: network namespaces named
# "$FAULT_PREFIX-*" (a hub holding a bridge, one namespace per node and one
# for the clients, joined by veth pairs created inside the hub, so the host's
# own namespace gets no interface), their nftables tables, and the processes
# it started (by pid). fault_cleanup undoes all of it and runs on EXIT, INT
# and TERM once fault_init has been called. Every wait is bounded.
#
#   fault_init WORKDIR            set up bookkeeping and the trap
#   net_create SUBNET             hub + bridge; SUBNET like 10.213.7 (a /24)
#   net_add NAME HOSTNUM          namespace "$FAULT_PREFIX-NAME" at SUBNET.HOSTNUM
#   net_addr NAME                 prints a namespace's address
#   net_exec NAME CMD...          runs CMD in the namespace
#   fault_partition NAME          drops everything between NAME and the hub
#   fault_partition_oneway NAME in|out
#                                 drops only what comes in / goes out
#   fault_partition_peers NAME ADDR...
#                                 drops traffic between NAME and those peers
#   fault_heal NAME               removes NAME's fault table (all of the above)
#   net_can_connect NAME ADDR PORT
#                                 whether a TCP connect from NAME's namespace
#                                 to ADDR:PORT completes within a second
#   proc_start KEY NS LOG CMD...  starts CMD (in namespace NS, "" = here)
#   proc_pid KEY / proc_alive KEY
#   proc_kill9 KEY / proc_stop KEY / proc_cont KEY
#   proc_term KEY SECONDS         SIGTERM, then SIGKILL after SECONDS
#   wait_until SECONDS CMD...     polls CMD every 0.1 s, at most SECONDS

FAULT_PREFIX=${FAULT_PREFIX:-cft$$}
FAULT_NETNS=()
declare -A FAULT_PIDS=()
declare -A FAULT_ADDRS=()
FAULT_SUBNET=""
FAULT_TABLE=cairn_fault

fault_log() { printf '[faults %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

fault_init() {
  FAULT_WORKDIR=$1
  mkdir -p "$FAULT_WORKDIR"
  trap fault_cleanup EXIT
  trap 'fault_cleanup; exit 130' INT
  trap 'fault_cleanup; exit 143' TERM
}

fault_cleanup() {
  local key pid ns
  for key in "${!FAULT_PIDS[@]}"; do
    pid=${FAULT_PIDS[$key]}
    if kill -0 "$pid" 2>/dev/null; then
      kill -CONT "$pid" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
    unset "FAULT_PIDS[$key]"
  done
  for ns in "${FAULT_NETNS[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  FAULT_NETNS=()
}

# Polls "$@" every 0.1 s until it succeeds or SECONDS pass (returns 1).
wait_until() {
  local seconds=$1
  shift
  local tries=$((seconds * 10)) i
  for ((i = 0; i < tries; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  "$@"
}

fault_need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    fault_log "network namespaces and nftables need root (CAP_NET_ADMIN)"
    return 1
  fi
  command -v ip >/dev/null && command -v nft >/dev/null || {
    fault_log "ip (iproute2) or nft (nftables) missing: scripts/packages.txt lists them"
    return 1
  }
}

net_create() {
  FAULT_SUBNET=$1
  local hub=$FAULT_PREFIX-hub
  ip netns add "$hub"
  FAULT_NETNS+=("$hub")
  ip -n "$hub" link set lo up
  ip -n "$hub" link add br0 type bridge
  ip -n "$hub" link set br0 up
}

net_add() {
  local name=$1 host=$2
  local ns=$FAULT_PREFIX-$name hub=$FAULT_PREFIX-hub
  local addr=$FAULT_SUBNET.$host
  ip netns add "$ns"
  FAULT_NETNS+=("$ns")
  ip -n "$ns" link set lo up
  # Both ends are made inside the hub; one moves straight into the node.
  ip -n "$hub" link add "v-$name" type veth peer name eth0 netns "$ns"
  ip -n "$hub" link set "v-$name" master br0 up
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
  FAULT_ADDRS[$name]=$addr
}

net_addr() { printf '%s\n' "${FAULT_ADDRS[$1]}"; }

net_exec() {
  local name=$1
  shift
  ip netns exec "$FAULT_PREFIX-$name" "$@"
}

# A fresh fault table in NAME's namespace with input and output chains.
_fault_table() {
  local ns=$FAULT_PREFIX-$1
  ip netns exec "$ns" nft delete table inet "$FAULT_TABLE" 2>/dev/null || true
  ip netns exec "$ns" nft -f - <<EOF
table inet $FAULT_TABLE {
  chain input { type filter hook input priority 0; policy accept; }
  chain output { type filter hook output priority 0; policy accept; }
}
EOF
}

fault_partition() {
  local ns=$FAULT_PREFIX-$1
  _fault_table "$1"
  ip netns exec "$ns" nft add rule inet "$FAULT_TABLE" input iifname eth0 drop
  ip netns exec "$ns" nft add rule inet "$FAULT_TABLE" output oifname eth0 drop
}

fault_partition_oneway() {
  local ns=$FAULT_PREFIX-$1 direction=$2
  _fault_table "$1"
  case $direction in
    in) ip netns exec "$ns" nft add rule inet "$FAULT_TABLE" input iifname eth0 drop ;;
    out) ip netns exec "$ns" nft add rule inet "$FAULT_TABLE" output oifname eth0 drop ;;
    *)
      fault_log "fault_partition_oneway: direction is in or out, not '$direction'"
      return 2
      ;;
  esac
}

fault_partition_peers() {
  local ns=$FAULT_PREFIX-$1 peer
  shift
  _fault_table "${ns#"$FAULT_PREFIX"-}"
  for peer in "$@"; do
    ip netns exec "$ns" nft add rule inet "$FAULT_TABLE" input ip saddr "$peer" drop
    ip netns exec "$ns" nft add rule inet "$FAULT_TABLE" output ip daddr "$peer" drop
  done
}

net_can_connect() {
  ip netns exec "$FAULT_PREFIX-$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}

fault_heal() {
  ip netns exec "$FAULT_PREFIX-$1" nft delete table inet "$FAULT_TABLE" 2>/dev/null || true
}

# proc_start KEY NS LOG CMD...: NS "" runs CMD here. `ip netns exec` execs
# CMD, so the recorded pid is CMD's own.
proc_start() {
  local key=$1 ns=$2 log=$3
  shift 3
  if [ -n "$ns" ]; then
    ip netns exec "$FAULT_PREFIX-$ns" "$@" >>"$log" 2>&1 &
  else
    "$@" >>"$log" 2>&1 &
  fi
  FAULT_PIDS[$key]=$!
}

proc_pid() { printf '%s\n' "${FAULT_PIDS[$1]:-}"; }

proc_alive() {
  local pid=${FAULT_PIDS[$1]:-}
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# Waits (bounded) for KEY's process to be gone and reaps it, setting
# PROC_RC to its exit status. Returns 1 if it is still there after SECONDS.
# (Not in a $(...) subshell: only this shell can reap its children.)
proc_reap() {
  local key=$1 seconds=$2 pid=${FAULT_PIDS[$1]:-}
  PROC_RC=0
  [ -n "$pid" ] || return 0
  wait_until "$seconds" _proc_gone "$pid" || return 1
  { wait "$pid"; } 2>/dev/null || PROC_RC=$?
  unset "FAULT_PIDS[$key]"
}

_proc_gone() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" 2>/dev/null)" = Z ]; }

proc_kill9() {
  local pid=${FAULT_PIDS[$1]:-}
  [ -n "$pid" ] || return 1
  kill -KILL "$pid" 2>/dev/null || true
  proc_reap "$1" 10
}

proc_stop() { kill -STOP "${FAULT_PIDS[$1]}"; }
proc_cont() { kill -CONT "${FAULT_PIDS[$1]}"; }

proc_term() {
  local key=$1 seconds=$2 pid=${FAULT_PIDS[$1]:-}
  [ -n "$pid" ] || return 0
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  if ! proc_reap "$key" "$seconds"; then
    fault_log "$key (pid $pid) ignored SIGTERM for ${seconds}s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    proc_reap "$key" 10
    return 1
  fi
}
