#!/usr/bin/env bash
# Commands run side by side in a test stage. Each one's lines are prefixed
# with [NAME], so a reader can tell the runs apart, and its exit status is
# kept for the stage to check once they are all done:
#
#   side_by_side_dir=$(mktemp -d)   # where the exit statuses go
#   side_by_side NAME CMD... &      # one per command
#   wait
#   side_by_side_status NAME...     # 0 if every NAME exited 0

# side_by_side NAME CMD...: CMD with its output (stdout and stderr) prefixed
# by [NAME]; its exit status goes to $side_by_side_dir/NAME.
side_by_side() {
  local name=$1 rc=0
  shift
  "$@" 2>&1 | sed -u "s/^/[$name] /" || rc=$?
  echo "$rc" >"$side_by_side_dir/$name"
}

# side_by_side_status NAME...: names on stderr each NAME that did not exit 0
# (or left no status), and then fails.
side_by_side_status() {
  local name rc status=0
  for name in "$@"; do
    rc=$(cat "$side_by_side_dir/$name" 2>/dev/null || echo "none recorded")
    if [ "$rc" != 0 ]; then
      echo "==> $name failed (exit status $rc); its lines are marked [$name] above" >&2
      status=1
    fi
  done
  return $status
}
