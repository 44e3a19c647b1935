#!/usr/bin/env bash
# test_daemon_start.sh — cairnd refuses to start cleanly, and logs right:
#   1. its TCP port held by another program: exit 1 with one line naming
#      [node] listen (not gRPC's abort, 134), and its unix socket not left
#      behind; the same with an address that is not this machine's
#      (192.0.2.1, TEST-NET-1: the bind fails, nothing is sent);
#   2. [node] socket naming a file that is not a socket: exit 1 with one line
#      saying so, and the file is still there, unchanged (a typo in the
#      config must not delete someone's file); a stale socket is replaced;
#   3. -c naming a directory: exit 2 with one line ("cannot read"), never a
#      node on the defaults;
#   4. log lines: with JOURNAL_STREAM naming its stderr (as systemd sets it)
#      they carry the "<6>" priority prefix; with JOURNAL_STREAM inherited
#      but naming another file they carry a timestamp instead.
source "$(dirname "$0")/lib.sh"

# conf NAME [LINES...]: a config in $T_TMP/NAME.conf on its own directory.
conf() {
  local name=$1; shift
  mkdir -p "$T_TMP/$name"
  {
    echo "[node]"
    echo "name = $name"
    echo "data_dir = $T_TMP/$name/data"
    echo "metrics_listen = none"
    local l; for l in "$@"; do echo "$l"; done
  } > "$T_TMP/$name.conf"
}

# start_fails NAME WANT_RC PATTERN: cairnd on NAME's config exits WANT_RC
# (within 30 s) with exactly one line on stderr matching PATTERN.
start_fails() {
  local rc=0
  timeout 30 "$CAIRND" -c "$T_TMP/$1.conf" > "$T_TMP/$1.out" 2> "$T_TMP/$1.err" || rc=$?
  [[ $rc == "$2" ]] || { cat "$T_TMP/$1.err" >&2; fail "$1: cairnd exited $rc, want $2"; }
  # gRPC prints its own "E1207 ... chttp2_server.cc" lines; ours are cairnd's
  local ours
  ours=$(grep -c '^cairnd: ' "$T_TMP/$1.err" || true)
  [[ $ours == 1 ]] || { cat "$T_TMP/$1.err" >&2; fail "$1: $ours 'cairnd:' lines, want 1"; }
  grep -q "^cairnd: .*$3" "$T_TMP/$1.err" ||
    { cat "$T_TMP/$1.err" >&2; fail "$1: no line matching '$3'"; }
}

# ---- 1. the TCP port is taken ----
port=$(free_port)
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
print("held", flush=True); time.sleep(60)' "$port" > "$T_TMP/holder.out" &
T_PIDS+=("$!")
for ((i = 0; i < 100; i++)); do grep -q held "$T_TMP/holder.out" && break; sleep 0.05; done
grep -q held "$T_TMP/holder.out" || fail "could not hold port $port"
conf busy "socket = $T_TMP/busy/cairnd.sock" "listen = 127.0.0.1:$port"
start_fails busy 1 "\[node\] listen 127.0.0.1:$port: cannot listen there"
[[ ! -e $T_TMP/busy/cairnd.sock ]] || fail "the unix socket was left behind after a failed start"
if [[ $(cat /proc/sys/net/ipv4/ip_nonlocal_bind 2>/dev/null || echo 0) == 0 ]]; then
  conf notmine "socket = $T_TMP/notmine/cairnd.sock" "listen = 192.0.2.1:$port"
  start_fails notmine 1 "\[node\] listen 192.0.2.1:$port: cannot listen there"
  [[ ! -e $T_TMP/notmine/cairnd.sock ]] || fail "the unix socket was left behind (192.0.2.1)"
else
  echo "# net.ipv4.ip_nonlocal_bind is on: 192.0.2.1 would bind; that case skipped"
fi
pass "TCP port in use or not this machine's: exit 1, one line naming [node] listen, no socket left"

# ---- 2. the socket path names a regular file ----
echo "someone's data" > "$T_TMP/victim.txt"
before=$(sha "$T_TMP/victim.txt")
conf typo "socket = $T_TMP/victim.txt" "listen = none"
start_fails typo 1 "\[node\] socket $T_TMP/victim.txt: a file that is not a socket is there"
[[ -f $T_TMP/victim.txt && $(sha "$T_TMP/victim.txt") == "$before" ]] ||
  fail "cairnd removed or changed the file its [node] socket named"
# a stale socket (its cairnd gone) is still taken over
conf stale "socket = $T_TMP/stale.sock" "listen = none"
/usr/bin/python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
  "$T_TMP/stale.sock"
[[ -S $T_TMP/stale.sock ]] || fail "could not make a stale socket"
"$CAIRND" -c "$T_TMP/stale.conf" > "$T_TMP/stale.log" 2>&1 &
spid=$!
T_PIDS+=("$spid")
ok=0
for ((i = 0; i < 200; i++)); do
  if "$CAIRNCTL" --server "unix:$T_TMP/stale.sock" node status > /dev/null 2>&1; then ok=1; break; fi
  kill -0 "$spid" 2>/dev/null || break
  sleep 0.05
done
(( ok )) || { cat "$T_TMP/stale.log" >&2; fail "cairnd did not take over a stale socket"; }
kill -TERM "$spid"
rc=0; wait "$spid" || rc=$?
[[ $rc == 0 ]] || fail "cairnd on the stale socket exited $rc after SIGTERM"
pass "[node] socket naming a regular file: exit 1, the file kept; a stale socket is taken over"

# ---- 3. -c names a directory ----
mkdir -p "$T_TMP/confdir"
rc=0
"$CAIRND" -c "$T_TMP/confdir" > /dev/null 2> "$T_TMP/confdir.err" || rc=$?
[[ $rc == 2 ]] || fail "cairnd -c DIRECTORY exited $rc, want 2: $(cat "$T_TMP/confdir.err")"
[[ $(wc -l < "$T_TMP/confdir.err") == 1 ]] && grep -q 'cannot read: Is a directory' \
  "$T_TMP/confdir.err" || fail "cairnd -c DIRECTORY: $(cat "$T_TMP/confdir.err")"
pass "cairnd -c DIRECTORY: exit 2, 'cannot read'"

# ---- 4. log lines: journal or timestamps ----
# journal NAME JS: starts cairnd on NAME's config with JOURNAL_STREAM=JS
# ('@': the device:inode of its own log file, $T_TMP/NAME.log), waits until
# it answers, and stops it.
journal() {
  local name=$1 js=$2
  conf "$name" "socket = $T_TMP/$name/cairnd.sock" "listen = none"
  : > "$T_TMP/$name.log"
  [[ $js == @ ]] && js=$(stat -c '%d:%i' "$T_TMP/$name.log")
  JOURNAL_STREAM=$js "$CAIRND" -c "$T_TMP/$name.conf" >> "$T_TMP/$name.log" 2>&1 &
  local pid=$! ok=0 i
  T_PIDS+=("$pid")
  for ((i = 0; i < 200; i++)); do
    if "$CAIRNCTL" --server "unix:$T_TMP/$name/cairnd.sock" node status > /dev/null 2>&1; then
      ok=1; break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  (( ok )) || { cat "$T_TMP/$name.log" >&2; fail "cairnd $name did not start"; }
  kill -TERM "$pid"
  wait "$pid" || fail "cairnd $name did not stop cleanly"
}
journal injournal @
grep -q '^<6>engine: ' "$T_TMP/injournal.log" ||
  { cat "$T_TMP/injournal.log" >&2; fail "stderr is the journal: no '<6>' lines"; }
if grep -Eq '^[0-9]{4}-' "$T_TMP/injournal.log"; then
  fail "stderr is the journal: timestamped lines"
fi
journal inherited 1:2
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z I engine: ' "$T_TMP/inherited.log" ||
  { cat "$T_TMP/inherited.log" >&2; fail "JOURNAL_STREAM naming another file: no timestamps"; }
if grep -q '^<' "$T_TMP/inherited.log"; then
  fail "JOURNAL_STREAM naming another file: '<N>' lines"
fi
pass "log: '<6>' when stderr is the journal, timestamps when JOURNAL_STREAM names another file"
pass "daemon start"
