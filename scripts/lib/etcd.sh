# A local 3-member etcd cluster on 127.0.0.1 for demos (scripts/run cluster)
# and by-hand experiments. Sourced, not run; needs Debian's etcd-server
# (scripts/packages.txt). Each member's client port is printed; the folder
# holds data, logs and pids:
#
#   source scripts/lib/etcd.sh
#   etcd_cluster_start /tmp/demo-etcd          # prints the endpoints
#   etcd_cluster_endpoints /tmp/demo-etcd      # 127.0.0.1:P0,127.0.0.1:P1,...
#   etcd_cluster_kill_member /tmp/demo-etcd 0  # kill -9 of member m0
#   etcd_cluster_stop /tmp/demo-etcd           # kill -9 of every member left
#
# Ports: ETCD_DEMO_BASE_PORT (default 23790): member i serves clients on
# BASE+2i and peers on BASE+2i+1. The tests do not use this file: they start
# their own cluster on free ports (etcd_test_cluster.h).

# etcd_cluster_start DIR [WAIT_SECONDS]: starts m0..m2 with data and logs in
# DIR (created; must not hold a running cluster) and waits up to
# WAIT_SECONDS (default 30) until every member answers a read.
etcd_cluster_start() {
  local dir=${1:?usage: etcd_cluster_start DIR [WAIT_SECONDS]} wait=${2:-30}
  local base=${ETCD_DEMO_BASE_PORT:-23790} etcd i peers="" endpoints=""
  etcd=$(command -v etcd || true)
  if [ -z "$etcd" ]; then
    echo "etcd_cluster_start: etcd is not installed (apt-get install etcd-server)" >&2
    return 1
  fi
  if [ -e "$dir/m0.pid" ] && kill -0 "$(cat "$dir/m0.pid")" 2>/dev/null; then
    echo "etcd_cluster_start: $dir already holds a running cluster (etcd_cluster_stop $dir)" >&2
    return 1
  fi
  mkdir -p "$dir"
  for i in 0 1 2; do
    peers+="${peers:+,}m$i=http://127.0.0.1:$((base + 2 * i + 1))"
  done
  for i in 0 1 2; do
    local client="http://127.0.0.1:$((base + 2 * i))" peer="http://127.0.0.1:$((base + 2 * i + 1))"
    "$etcd" --name "m$i" --data-dir "$dir/m$i" \
      --listen-client-urls "$client" --advertise-client-urls "$client" \
      --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
      --initial-cluster "$peers" --initial-cluster-token "cairn-demo-$base" \
      --initial-cluster-state new --heartbeat-interval 50 --election-timeout 500 \
      >"$dir/m$i.log" 2>&1 </dev/null &
    echo $! >"$dir/m$i.pid"
    disown $! 2>/dev/null || true  # no "Killed" notice when stopped
    endpoints+="${endpoints:+,}127.0.0.1:$((base + 2 * i))"
  done
  echo "$endpoints" >"$dir/endpoints"
  local deadline=$((SECONDS + wait)) ready
  while :; do
    ready=0
    for i in 0 1 2; do
      # A linearizable read through the v3 gateway: needs a leader and quorum.
      curl -sf -m 1 -X POST "http://127.0.0.1:$((base + 2 * i))/v3/kv/range" \
        -d '{"key":"L2NhaXJuLWRlbW8vaGVhbHRo"}' >/dev/null && ready=$((ready + 1))
    done
    [ "$ready" -eq 3 ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "etcd_cluster_start: not ready within ${wait}s; logs in $dir/m*.log" >&2
      tail -n 5 "$dir"/m*.log >&2
      etcd_cluster_stop "$dir"
      return 1
    fi
    sleep 0.2
  done
  echo "$endpoints"
}

# etcd_cluster_endpoints DIR: the members' client endpoints, comma-separated.
etcd_cluster_endpoints() {
  cat "${1:?usage: etcd_cluster_endpoints DIR}/endpoints"
}

# etcd_cluster_kill_member DIR I: kill -9 of member I (0..2).
etcd_cluster_kill_member() {
  local dir=${1:?usage: etcd_cluster_kill_member DIR I} i=${2:?member index}
  [ -e "$dir/m$i.pid" ] || return 0
  kill -9 "$(cat "$dir/m$i.pid")" 2>/dev/null || true
  rm -f "$dir/m$i.pid"
}

# etcd_cluster_stop DIR: kill -9 of every member still running (data kept;
# remove DIR to start afresh).
etcd_cluster_stop() {
  local dir=${1:?usage: etcd_cluster_stop DIR} i
  for i in 0 1 2; do etcd_cluster_kill_member "$dir" "$i"; done
}
