#!/usr/bin/env bash
# test_fd_limit.sh — cairnd out of file descriptors (every chunk keeps one
# open): with a hard limit of 80, `chunk create --count 100` cannot make
# them all. The command fails (exit 1, one line naming the cause) instead of
# listing a short result as success; cairnd logs how many it made; those
# chunks are listed, and the node keeps serving (a volume on one of them
# stores and reads a file back). A soft limit below the hard one is raised
# at start (cairnd takes every descriptor it is allowed).
source "$(dirname "$0")/../system/lib.sh"

mkdir -p "$T_TMP/n1"
cat > "$T_TMP/n1/cairnd.conf" <<CONF
[node]
name = n1
data_dir = $T_TMP/n1/data
socket = $T_TMP/n1/cairnd.sock
listen = none
metrics_listen = none
CONF
start_limited() { # start_limited SOFT HARD
  ( ulimit -Sn "$1" && ulimit -Hn "$2" && exec "$CAIRND" -c "$T_TMP/n1/cairnd.conf" ) \
    >> "$T_TMP/n1/cairnd.log" 2>&1 &
  pid=$!
  T_PIDS+=("$pid")
  echo "$pid" > "$T_TMP/n1/pid"
  for ((i = 0; i < 200; i++)); do
    "$CAIRNCTL" --server "unix:$T_TMP/n1/cairnd.sock" node status > /dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  cat "$T_TMP/n1/cairnd.log" >&2
  fail "cairnd did not start"
}
c() { "$CAIRNCTL" --server "unix:$T_TMP/n1/cairnd.sock" "$@"; }
# c_retry ARGS...: c, up to 5 tries 0.2 s apart. With its last descriptor
# free, cairnd takes a new connection once it has closed the last one,
# which it notices a moment after that client exits.
c_retry() {
  local i
  for ((i = 0; i < 5; i++)); do c "$@" && return 0; sleep 0.2; done
  return 1
}

# a soft limit below the hard one is raised (to the hard limit this shell has)
hard=$(ulimit -Hn)
[[ $hard == unlimited || $hard -gt 4096 ]] && hard=4096
start_limited 64 "$hard"
want=$(awk '/^Max open files/ { print $4 " " $5 }' "/proc/$pid/limits")
[[ $want == "$hard $hard" ]] || fail "open-files limit of cairnd: '$want', want '$hard $hard'"
node_kill n1 TERM
pass "a soft open-files limit below the hard one is raised to it"

start_limited 80 80
rc=0
c chunk create --count 100 --size 4M > "$T_TMP/out" 2> "$T_TMP/err" || rc=$?
[[ $rc == 1 ]] || fail "chunk create past the fd limit exited $rc, want 1: $(cat "$T_TMP/err")"
[[ $(wc -l < "$T_TMP/err") == 1 ]] && grep -q '^cairnctl: chunk create: Too many open files$' \
  "$T_TMP/err" || fail "chunk create past the fd limit said: $(cat "$T_TMP/err")"
made=$(sed -n 's/.*chunk create: \([0-9]*\) of 100 chunks made, then: Too many open files.*/\1/p' \
  "$T_TMP/n1/cairnd.log")
[[ -n $made ]] && (( made > 0 && made < 100 )) ||
  fail "no log line saying how many chunks were made: $(tail -3 "$T_TMP/n1/cairnd.log")"
listed=$(c_retry --json chunk list | /usr/bin/python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
[[ $listed == "$made" ]] || fail "chunk list shows $listed chunks, the log says $made were made"
pass "chunk create past the fd limit: exit 1, one line; the log says $made of 100 were made"

# the node keeps serving: a volume on one of the chunks made
id=$(c_retry --json chunk list | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')
c_retry volume create v1 || fail "volume create after running out of fds"
c_retry chunk assign "$id" v1 || fail "chunk assign after running out of fds"
head -c 100000 /dev/urandom > "$T_TMP/f"
c_retry put v1:/f "$T_TMP/f" || fail "put after running out of fds"
c_retry cat v1:/f > "$T_TMP/f.back" || fail "cat after running out of fds"
cmp -s "$T_TMP/f.back" "$T_TMP/f" || fail "cat after running out of fds differs"
pass "the node keeps serving after running out of fds"
