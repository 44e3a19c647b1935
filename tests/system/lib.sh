# tests/system/lib.sh — helpers for system and fault tests: start real cairnd
# nodes on their own data directories, sockets and 127.0.0.x ports, run
# cairnctl against them, and clean everything up at exit.
#
# Usage in a test script:
#   source "$(dirname "$0")/../system/lib.sh"
#   node_start n1            # starts cairnd for node n1, sets N1_SOCK etc.
#   ctl n1 volume create v1  # cairnctl against n1
#   node_kill n1 KILL        # or TERM
# Environment: CAIRN_BUILD (build dir; default build/ at the repo root).
set -euo pipefail

T_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T_BUILD=${CAIRN_BUILD:-$T_SRC/build}
CAIRND=$T_BUILD/daemon/cairnd
CAIRNCTL=$T_BUILD/client/cairnctl
mkdir -p "${CAIRN_TEST_TMP:-/tmp}"
T_TMP=$(mktemp -d "${CAIRN_TEST_TMP:-/tmp}/cairn-sys.XXXXXX")
T_PIDS=()

t_cleanup() {
  local pid
  for pid in "${T_PIDS[@]:-}"; do
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ ${T_KEEP:-0} == 1 ]]; then echo "# kept $T_TMP"; else rm -rf "$T_TMP"; fi
}
trap t_cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

# A free TCP port on 127.0.0.1 (the kernel picks it; racy only in theory).
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# node_start NAME [extra INI lines...]: config in $T_TMP/NAME, waits until the
# socket answers. Exports NAME_SOCK, NAME_ADDR (tcp), NAME_METRICS, NAME_DIR.
node_start() {
  local name=$1; shift
  local dir=$T_TMP/$name up=${name^^}
  mkdir -p "$dir"
  if [[ ! -f $dir/cairnd.conf ]]; then
    local port mport
    port=$(free_port); mport=$(free_port)
    {
      echo "[node]"
      echo "name = $name"
      echo "data_dir = $dir/data"
      echo "socket = $dir/cairnd.sock"
      echo "listen = 127.0.0.1:$port"
      echo "metrics_listen = 127.0.0.1:$mport"
      echo "[log]"
      echo "level = ${CAIRN_LOG_LEVEL:-info}"
      local l; for l in "$@"; do echo "$l"; done
    } > "$dir/cairnd.conf"
    printf -v "${up}_ADDR" '127.0.0.1:%s' "$port"
    printf -v "${up}_METRICS" '127.0.0.1:%s' "$mport"
  fi
  printf -v "${up}_SOCK" '%s' "$dir/cairnd.sock"
  printf -v "${up}_DIR" '%s' "$dir"
  export "${up}_SOCK" "${up}_DIR" "${up}_ADDR" "${up}_METRICS"
  "$CAIRND" -c "$dir/cairnd.conf" >> "$dir/cairnd.log" 2>&1 &
  local pid=$!
  T_PIDS+=("$pid")
  echo "$pid" > "$dir/pid"
  local i
  for ((i = 0; i < 200; i++)); do
    if "$CAIRNCTL" --server "unix:$dir/cairnd.sock" node status >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { cat "$dir/cairnd.log" >&2; fail "cairnd $name exited at start"; }
    sleep 0.05
  done
  cat "$dir/cairnd.log" >&2
  fail "cairnd $name did not answer within 10 s"
}

# node_kill NAME SIGNAL: signals the node and waits for it to exit (bounded).
node_kill() {
  local dir=$T_TMP/$1 sig=${2:-TERM} pid i
  pid=$(cat "$dir/pid")
  kill "-$sig" "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.05
  done
  fail "cairnd $1 did not exit after SIG$sig"
}

node_pid() { cat "$T_TMP/$1/pid"; }

# node_term NAME: SIGTERM to the node, SIGKILL if it has not exited within
# 30 s; sets NODE_RC to its exit status (137: it had to be killed).
node_term() {
  local pid t
  pid=$(node_pid "$1")
  kill -TERM "$pid"
  ( # SIGKILL if it has not stopped within 30 s
    for ((t = 0; t < 300; t++)); do
      sleep 0.1
      kill -0 "$pid" 2>/dev/null || exit 0
    done
    kill -KILL "$pid" 2>/dev/null || true
  ) >/dev/null 2>&1 &
  local watchdog=$!
  NODE_RC=0
  wait "$pid" || NODE_RC=$?
  wait "$watchdog" || true
}

# node_metric NAME METRIC: the value of METRIC (a series without labels) on
# node NAME's /metrics page.
node_metric() {
  local addr=${1^^}_METRICS
  curl -sS --max-time 10 "http://${!addr}/metrics" | awk -v m="$2" '$1 == m {print $2}'
}

ctl() {
  local name=$1; shift
  "$CAIRNCTL" --server "unix:$T_TMP/$name/cairnd.sock" "$@"
}

# sha FILE: the SHA-256 of FILE ("-": of standard input), hex only.
sha() { sha256sum "$1" | awk '{ print $1 }'; }

# py_stubs: sets PY to Debian's python3 (which sees python3-grpcio) and
# STUBS to a directory of Python stubs generated now from rpc/proto.
py_stubs() {
  PY=/usr/bin/python3
  "$PY" -c 'import grpc, grpc_tools' 2>/dev/null ||
    fail "$PY lacks grpc or grpc_tools (apt-get install python3-grpcio python3-grpc-tools)"
  STUBS=$T_TMP/pystubs
  mkdir -p "$STUBS"
  "$PY" -m grpc_tools.protoc -I "$T_SRC/rpc/proto" --python_out="$STUBS" \
    --grpc_python_out="$STUBS" "$T_SRC"/rpc/proto/cairn/v1/*.proto ||
    fail "grpc_tools.protoc could not compile rpc/proto/cairn/v1/*.proto"
}

# A volume VOL on node NAME with COUNT chunks of SIZE.
make_volume() {
  local name=$1 vol=$2 count=${3:-2} size=${4:-64M} id
  ctl "$name" volume create "$vol"
  for id in $(ctl "$name" --json chunk create --count "$count" --size "$size" |
              /usr/bin/python3 -c 'import json,sys; print(" ".join(c["id"] for c in json.load(sys.stdin)))'); do
    ctl "$name" chunk assign "$id" "$vol"
  done
}
