#!/usr/bin/env bash
# test_unresponsive.sh — a cairnd that stops answering, and clients that
# stop halfway. Nothing may hang, every failure must be a clean timeout,
# and no acknowledged byte may be lost.
#
# 1. cairnd stopped (SIGSTOP: alive, connections open, nothing runs, as a
#    hung daemon or one behind a partition looks from a client) under
#    libcairn, over the unix socket and over TCP (tests/system/hang_probe.c):
#    getattr, a 3-piece write and read, fsync and mknod each return
#    -ETIMEDOUT; after SIGCONT the same connection serves at its first call,
#    acknowledged bytes are intact and the timed-out write left whole pieces
#    in order (see hang_probe.c).
# 2. cairnctl --timeout against a stopped cairnd: exit 1 with one line that
#    says the call timed out, for node status, put and cat; a bad --timeout
#    is a usage error (exit 2) naming the option.
# 3. Through the mount (timeout=2): with cairnd stopped, 8 MiB written with
#    dd conv=fsync to a file that exists fails with EIO and a stat of a new
#    name fails with EIO, each in bounded time (`timeout 60` catches a hang);
#    40 small scattered writes queued while it is stopped cost a stat behind
#    them one timeout, not one each, and fsync reports them (EIO);
#    cairn-fuse stays up, and after SIGCONT the same mount writes the file
#    whole (read back through the mount and with cairnctl).
# 4. Stalled clients (tests/fault/stall_clients.py: 16 ReadStreams that read
#    one piece and stop reading, 16 WriteStreams that send one piece and
#    stop): cairnd keeps serving others (cairnctl put and cat of 8 MiB,
#    node status); then SIGTERM with the streams still open: cairnd stops on
#    its own (exit 0, "stopped cleanly"; node_term would SIGKILL it after
#    30 s; the time taken, about the 5 s drain grace, is printed), and after
#    a restart every acknowledged file reads back.
source "$(dirname "$0")/../system/lib.sh"
source "$(dirname "$0")/../system/fuse_lib.sh"

PROBE=$T_BUILD/tests/hang_probe
[[ -x $PROBE ]] || fail "$PROBE is not built (cmake --build \$CAIRN_BUILD --target hang_probe)"
py_stubs

node_start n1
make_volume n1 v1 2 128M
pid=$(node_pid n1)

# ---- 1 ----
for addr in "unix:$N1_SOCK" "$N1_ADDR"; do
  tag=tcp
  [[ $addr == unix:* ]] && tag=unix
  rc=0
  timeout 120 "$PROBE" "$addr" "$pid" v1 "probe-$tag" || rc=$?
  kill -CONT "$pid" 2>/dev/null || true # whatever the probe did
  [[ $rc == 0 ]] || fail "hang_probe over $addr: exit $rc (above)"
  kill -0 "$pid" || fail "cairnd died"
  pass "libcairn over $addr: clean timeouts while cairnd was stopped, served at once after"
done

# ---- 2 ----
head -c 5M /dev/urandom > "$T_TMP/five"
ctl n1 put v1:/five "$T_TMP/five"
rc=0
ctl n1 --timeout 0 node status 2>"$T_TMP/err" || rc=$?
{ [[ $rc == 2 ]] && grep -q -- '--timeout' "$T_TMP/err"; } || fail "--timeout 0: exit $rc: $(cat "$T_TMP/err")"
kill -STOP "$pid"
for cmd in "node status" "put v1:/late $T_TMP/five" "cat v1:/five"; do
  rc=0
  # shellcheck disable=SC2086 # the words of $cmd are the command's
  timeout 60 "$CAIRNCTL" --server "unix:$N1_SOCK" --timeout 0.5 $cmd >/dev/null 2>"$T_TMP/err" || rc=$?
  if [[ $rc != 1 || $(wc -l <"$T_TMP/err") != 1 ]] || ! grep -qi 'timed out' "$T_TMP/err"; then
    kill -CONT "$pid"
    fail "cairnctl $cmd to a stopped cairnd: exit $rc, want 1 and one 'timed out' line: $(cat "$T_TMP/err")"
  fi
done
kill -CONT "$pid"
ctl n1 --timeout 30 node status >/dev/null || fail "node status after SIGCONT"
[[ $(ctl n1 cat v1:/five | sha -) == $(sha "$T_TMP/five") ]] ||
  fail "v1:/five differs after the stop"
pass "cairnctl --timeout: one 'timed out' line and exit 1 from a stopped cairnd; bad value: exit 2"

# ---- 3 ----
MNT=$T_TMP/mnt
fuse_mount "$N1_SOCK" v1 "$MNT" timeout=2,attr_timeout=60,entry_timeout=60
head -c 8M /dev/urandom > "$T_TMP/src"
: > "$MNT/through" # exists before the stop, its attributes cached
kill -STOP "$pid"
rc=0
timeout 60 dd if="$T_TMP/src" of="$MNT/through" bs=1M conv=notrunc,fsync status=none 2>"$T_TMP/err" || rc=$?
rc2=0
timeout 60 stat "$MNT/never-there" >/dev/null 2>"$T_TMP/err2" || rc2=$?
kill -CONT "$pid"
{ [[ $rc == 1 ]] && grep -q 'Input/output error' "$T_TMP/err"; } ||
  fail "dd conv=fsync to a stopped cairnd through the mount: exit $rc (124: it hung): $(cat "$T_TMP/err")"
{ [[ $rc2 == 1 ]] && grep -q 'Input/output error' "$T_TMP/err2"; } ||
  fail "stat of a new name with cairnd stopped: exit $rc2 (124: it hung): $(cat "$T_TMP/err2")"
kill -0 "$F_PID" 2>/dev/null || fail "cairn-fuse died: $(tail -5 "$MNT.log")"
timeout 60 dd if="$T_TMP/src" of="$MNT/through" bs=1M conv=fsync status=none ||
  fail "dd through the mount after SIGCONT"
cmp "$T_TMP/src" "$MNT/through" || fail "the file written through the mount after SIGCONT differs"
[[ $(ctl n1 cat v1:/through | sha -) == $(sha "$T_TMP/src") ]] ||
  fail "cairnctl cat v1:/through differs from what the mount wrote"
# 40 small writes at scattered offsets (40 queued items) to a file opened
# before the stop: the first send times out, and the other 39 fail with it
# instead of each waiting its own 2 s (wbehind.c (8)), so a stat behind
# them fails within a few timeouts, not 80 s (`timeout 60` catches that);
# fsync reports the failed writes.
: > "$MNT/scatter"
rc=0
timeout 60 /usr/bin/python3 - "$MNT" "$pid" <<'PY' || rc=$?
import errno, os, signal, sys
mnt, pid = sys.argv[1], int(sys.argv[2])
fd = os.open(mnt + "/scatter", os.O_WRONLY)
os.kill(pid, signal.SIGSTOP)
for i in range(40):
    os.pwrite(fd, b"s" * 4096, i * 65536)
for what, call in (("stat", lambda: os.stat(mnt + "/never-there-2")), ("fsync", lambda: os.fsync(fd))):
    try:
        call()
        sys.exit(f"{what} succeeded with cairnd stopped")
    except OSError as e:
        if e.errno != errno.EIO:
            sys.exit(f"{what}: {e}")
os.kill(pid, signal.SIGCONT)
os.close(fd)
PY
kill -CONT "$pid"
[[ $rc == 0 ]] || fail "40 queued writes with cairnd stopped: exit $rc (124: the barrier waited a timeout per write)"
kill -0 "$F_PID" 2>/dev/null || fail "cairn-fuse died: $(tail -5 "$MNT.log")"
fuse_umount "$MNT"
pass "mount (timeout=2) with cairnd stopped: dd conv=fsync, stat and 40 queued writes fail with EIO; after SIGCONT it writes whole"

# ---- 4 ----
ctl n1 put v1:/stall-src "$T_TMP/src"
: > "$T_TMP/empty"
ctl n1 put v1:/stall-scratch "$T_TMP/empty"
N=16
"$PY" "$T_SRC/tests/fault/stall_clients.py" "$STUBS" "unix:$N1_SOCK" v1 /stall-src /stall-scratch \
  "$N" 300 >"$T_TMP/stall.out" 2>&1 &
stall=$!
T_PIDS+=("$stall")
for ((i = 0; i < 600; i++)); do # 60 s at most
  grep -q "^stalled $N" "$T_TMP/stall.out" && break
  kill -0 "$stall" 2>/dev/null || fail "stall_clients.py ended: $(cat "$T_TMP/stall.out")"
  sleep 0.1
done
grep -q "^stalled $N" "$T_TMP/stall.out" || fail "stall_clients.py did not stall its streams in 60 s"
declare -A WANT=([/five]=$(sha "$T_TMP/five") [/stall-src]=$(sha "$T_TMP/src") [/through]=$(sha "$T_TMP/src"))
for k in 1 2 3; do
  head -c 8M /dev/urandom > "$T_TMP/busy$k"
  timeout 60 "$CAIRNCTL" --server "unix:$N1_SOCK" --timeout 20 put "v1:/busy$k" "$T_TMP/busy$k" ||
    fail "put of 8 MiB beside $N stalled readers and writers"
  WANT[/busy$k]=$(sha "$T_TMP/busy$k")
  got=$(timeout 60 "$CAIRNCTL" --server "unix:$N1_SOCK" --timeout 20 cat "v1:/busy$k" | sha -)
  [[ $got == "${WANT[/busy$k]}" ]] || fail "cat of v1:/busy$k beside stalled clients differs"
done
timeout 60 "$CAIRNCTL" --server "$N1_ADDR" --timeout 20 node status >/dev/null ||
  fail "node status over TCP beside stalled clients"
pass "cairnd serves put, cat and node status beside $N stalled readers and $N stalled writers"

t0=$(date +%s%N)
node_term n1
ms=$((($(date +%s%N) - t0) / 1000000))
[[ $NODE_RC == 0 ]] || fail "SIGTERM with stalled clients: exit $NODE_RC (137: had to be killed)"
tail -n 5 "$N1_DIR/cairnd.log" | grep -q 'stopped cleanly' ||
  fail "no 'stopped cleanly' in the log: $(tail -n 5 "$N1_DIR/cairnd.log")"
pass "SIGTERM with $N+$N stalled streams open: stopped cleanly in $ms ms"
kill -KILL "$stall" 2>/dev/null || true
wait "$stall" 2>/dev/null || true

node_start n1
for p in "${!WANT[@]}"; do
  got=$(ctl n1 cat "v1:$p" | sha -)
  [[ $got == "${WANT[$p]}" ]] || fail "after the restart, v1:$p differs"
done
for tag in unix tcp; do
  ctl n1 ls "v1:/probe-$tag-acked" >/dev/null || fail "after the restart, probe-$tag-acked is gone"
done
if grep -E '^[^ ]+ E ' "$N1_DIR/cairnd.log" >"$T_TMP/bad"; then
  fail "error lines in cairnd's log: $(head -n 5 "$T_TMP/bad")"
fi
pass "after a restart every acknowledged file reads back (${#WANT[@]} files and the probes')"
