#!/usr/bin/env bash
# A local cairn for a first look, everything under ./run in the working tree.
#
#   deploy/local-cluster.sh [start]   install packages, build, start the node,
#                                     create volume "demo", store and list a file,
#                                     mount the volume at ./run/mnt
#   deploy/local-cluster.sh status    node status and volumes
#   deploy/local-cluster.sh stop      stop the node (data stays in ./run)
#   deploy/local-cluster.sh clean     stop and delete ./run
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
run=$top/run
build=${CAIRN_BUILD:-$top/build}
nodes=(node1)
declare -A port=([node1]=7421)
declare -A mport=([node1]=9421)

ctl() { "$build/client/cairnctl" --server "unix:$run/node1/cairnd.sock" "$@"; }

node_up() {
  local n=$1 dir=$run/$1
  mkdir -p "$dir"
  cat > "$dir/cairnd.conf" <<CONF
[node]
name = $n
data_dir = $dir/data
socket = $dir/cairnd.sock
listen = 127.0.0.1:${port[$n]}
metrics_listen = 127.0.0.1:${mport[$n]}
[chunks]
size = 256M
CONF
  if [[ -f $dir/pid ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "$n already running (pid $(cat "$dir/pid"))"
    return 0
  fi
  nohup "$build/daemon/cairnd" -c "$dir/cairnd.conf" >>"$dir/cairnd.log" 2>&1 &
  echo $! >"$dir/pid"
  local i
  for ((i = 0; i < 200; i++)); do
    "$build/client/cairnctl" --server "unix:$dir/cairnd.sock" node status >/dev/null 2>&1 && {
      echo "$n up (pid $(cat "$dir/pid")), log $dir/cairnd.log"
      return 0
    }
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
    sleep 0.05
  done
  tail -20 "$dir/cairnd.log" >&2
  echo "local-cluster: $n did not start" >&2
  exit 1
}

unmount() {
  # /proc/mounts too: a mount whose cairn-fuse died fails stat (ENOTCONN),
  # which mountpoint needs
  if mountpoint -q "$run/mnt" 2>/dev/null || grep -qs " $run/mnt fuse" /proc/mounts; then
    fusermount3 -u "$run/mnt" 2>/dev/null || umount "$run/mnt" 2>/dev/null || umount -l "$run/mnt"
    echo "unmounted $run/mnt"
  fi
}

mount_demo() {
  # a mount whose cairn-fuse died (ENOTCONN): unmount it, then mount afresh
  if grep -qs " $run/mnt fuse" /proc/mounts && ! mountpoint -q "$run/mnt" 2>/dev/null; then
    unmount
  fi
  mkdir -p "$run/mnt"
  mountpoint -q "$run/mnt" && return 0
  "$build/fsadapter/cairn-fuse" --server "unix:$run/node1/cairnd.sock" demo "$run/mnt"
}

stop() {
  unmount
  local n pid i
  for n in "${nodes[@]}"; do
    [[ -f $run/$n/pid ]] || continue
    pid=$(cat "$run/$n/pid")
    if kill -TERM "$pid" 2>/dev/null; then
      for ((i = 0; i < 600; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then # still there after 60 s: do not leave it holding the data
        echo "$n did not stop within 60 s of SIGTERM: killing it (see $run/$n/cairnd.log)" >&2
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      fi
      echo "$n stopped"
    fi
    rm -f "$run/$n/pid"
  done
}

start() {
  deploy/install-deps.sh
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j "$(nproc)" --target cairnd cairnctl cairn-fuse mount.cairn >/dev/null
  local n
  for n in "${nodes[@]}"; do node_up "$n"; done
  if ! ctl volume list --json | grep -q '"name":"demo"'; then
    ctl volume create demo
    local id
    for id in $(ctl chunk create --count 2 --size 256M | awk 'NR > 1 { print $1 }'); do
      ctl chunk assign "$id" demo
    done
  fi
  ctl put demo:/hello/README.md README.md
  echo
  echo "== cairnctl ls demo:/hello"
  ctl ls demo:/hello
  mount_demo
  echo
  echo "== ls -l $run/mnt/hello (the volume, mounted with cairn-fuse)"
  ls -l "$run/mnt/hello"
  cat <<MSG

cairn is running; its data is in $run. The volume "demo" is mounted:
  cd $run/mnt
  export CAIRN_SERVER=unix:$run/node1/cairnd.sock
  $build/client/cairnctl volume list
  $build/client/cairnctl cat demo:/hello/README.md
  $build/client/cairnctl history demo:/hello/README.md
  $build/client/cairnctl snapshot create demo before-edit   # then mount it read-only:
  $build/fsadapter/cairn-fuse -o snapshot=before-edit demo /some/dir
Metrics: curl http://127.0.0.1:${mport[node1]}/metrics
Stop it (unmounts first) with: deploy/local-cluster.sh stop
MSG
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) ctl node status && ctl volume list ;;
  clean) stop; rm -rf "$run" ;;
  *) echo "usage: deploy/local-cluster.sh [start|status|stop|clean]" >&2; exit 2 ;;
esac
