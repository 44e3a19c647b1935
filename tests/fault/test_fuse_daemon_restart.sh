#!/usr/bin/env bash
# test_fuse_daemon_restart.sh — cairnd is SIGKILLed and restarted under a
# mounted volume; the mount keeps working without a remount.
#
# Part 1, -o timeout=20 (calls wait up to 20 s for an absent cairnd): a
# worker process loops (bounded in count and time) writing new files with
# fsync and reading back files it wrote earlier, logging each result to a
# local file. cairnd is killed with SIGKILL while it runs and restarted
# about 2 s later. Then:
#   - every call the worker made either succeeded or failed with EIO (it
#     may also simply have waited); no read ever returned wrong bytes;
#   - calls succeeded after the restart, through the same cairn-fuse
#     process and mount;
#   - everything written and fsynced before the kill (a set of files made
#     before the worker started, and every file the worker acknowledged)
#     is intact, read through the mount, through cairnctl (what cairnd
#     holds) and after an unmount and mount;
#   - new writes after the restart work.
# Part 2, -o timeout=1,entry_timeout=0: with cairnd down, calls that must
# reach it (lookup of a new name, create, mkdir, unlink, rename, readdir,
# statfs, getxattr, fsync of written data, also 3 MiB sent as a stream) fail
# with EIO, and cairn-fuse stays up; after a restart the same calls succeed (retried,
# bounded, while gRPC reconnects).
# Part 3: after a 12 s outage (calls failing all along), a call made 2 s
# after cairnd answers again is answered (libcairn's reconnect backoff is
# capped at 1 s; gRPC's own grows to 120 s).
source "$(dirname "$0")/../system/lib.sh"
source "$(dirname "$0")/../system/fuse_lib.sh"

node_start n1
make_volume n1 v1 2 256M
MNT=$T_TMP/mnt
fuse_mount "$N1_SOCK" v1 "$MNT" timeout=20
FPID=$F_PID

alive() {
  kill -0 "$FPID" 2>/dev/null || fail "cairn-fuse ($FPID) died: $(tail -5 "$MNT.log")"
  fuse_mounted "$MNT" || fail "$MNT is no longer mounted"
}

# Files written and fsynced before anything else.
mkdir "$MNT/pre"
declare -A PRE=()
for i in $(seq 1 20); do
  head -c $((i * 10000 + 17)) /dev/urandom >"$T_TMP/pre-$i"
  /usr/bin/python3 - "$T_TMP/pre-$i" "$MNT/pre/f$i" <<'PY' || fail "writing pre/f$i"
import os, sys
data = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
os.write(fd, data); os.fsync(fd); os.close(fd)
PY
  PRE[pre/f$i]=$(sha "$T_TMP/pre-$i")
done
pass "20 files written and fsynced through the mount"

# The worker: bounded by 4000 operations and 60 s; stops when $T_TMP/stop
# appears. Log lines: "ACK name sha256" after a successful write+fsync,
# "OK t_ms op", "ERR t_ms op ERRNAME", "BAD t_ms name" for wrong bytes.
WLOG=$T_TMP/worker.log
/usr/bin/python3 - "$MNT/w" "$WLOG" "$T_TMP/stop" <<'PY' &
import errno, hashlib, os, random, sys, time
d, logf, stop = sys.argv[1:4]
os.mkdir(d)
log = open(logf, "w", buffering=1)
rnd = random.Random(4)
acked = {}
start = time.time()
def now(): return int(time.time() * 1000)
for i in range(4000):
    if time.time() - start > 60 or os.path.exists(stop):
        break
    name = "w%05d" % i
    data = os.urandom(rnd.randrange(1, 65536))
    try:
        fd = os.open(os.path.join(d, name), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        h = hashlib.sha256(data).hexdigest()
        acked[name] = h
        log.write("ACK %s %s\nOK %d write\n" % (name, h, now()))
    except OSError as e:
        log.write("ERR %d write %s\n" % (now(), errno.errorcode.get(e.errno, str(e.errno))))
        time.sleep(0.05)
    if acked:
        old = rnd.choice(sorted(acked))
        try:
            with open(os.path.join(d, old), "rb") as f:
                got = hashlib.sha256(f.read()).hexdigest()
            log.write(("OK %d read\n" % now()) if got == acked[old] else ("BAD %d %s\n" % (now(), old)))
        except OSError as e:
            log.write("ERR %d read %s\n" % (now(), errno.errorcode.get(e.errno, str(e.errno))))
            time.sleep(0.05)
    time.sleep(0.01)
log.write("END %d\n" % now())
PY
WPID=$!
fuse_on_exit "kill -KILL $WPID 2>/dev/null"

now_ms() { /usr/bin/python3 -c 'import time; print(int(time.time() * 1000))'; }
sleep 2
T_KILL=$(now_ms)
node_kill n1 KILL
sleep 2
node_start n1
T_UP=$(now_ms)
echo "# cairnd killed at +0 ms, answering again at +$((T_UP - T_KILL)) ms"
# Let the worker run on until it has 20 successes after the restart (bounded).
for ((i = 0; i < 300; i++)); do
  n=$(awk -v t="$T_UP" '$1 == "OK" && $2 > t' "$WLOG" | wc -l)
  (( n >= 20 )) && break
  kill -0 "$WPID" 2>/dev/null || break
  sleep 0.1
done
touch "$T_TMP/stop"
wrc=0
wait "$WPID" || wrc=$?
[[ $wrc == 0 ]] || fail "the worker exited $wrc"
grep -q '^END' "$WLOG" || fail "the worker did not finish its log"
alive

if grep '^BAD' "$WLOG"; then fail "reads returned wrong bytes (above)"; fi
others=$(grep '^ERR' "$WLOG" | grep -v ' EIO$' || true)
[[ -z $others ]] || { echo "$others" | head || true; fail "calls failed with errors other than EIO (above)"; }
acks_before=$(awk -v t="$T_KILL" '$1 == "OK" && $3 == "write" && $2 < t' "$WLOG" | wc -l)
ok_after=$(awk -v t="$T_UP" '$1 == "OK" && $2 > t' "$WLOG" | wc -l)
eio=$(grep -c '^ERR' "$WLOG" || true)
(( acks_before > 0 )) || fail "the worker acknowledged no write before the kill"
(( ok_after >= 20 )) || fail "only $ok_after calls succeeded after the restart"
pass "worker across kill -9 and restart (timeout=20): $acks_before writes acknowledged before the kill, $eio calls failed with EIO, $ok_after calls succeeded after the restart, no wrong bytes, no other errno"
grep '^ERR' "$WLOG" | head -5 | sed "s/^/# worker: /;s/\$/ (kill at $T_KILL, up at $T_UP)/" || true
pass "the same cairn-fuse process ($FPID) serves the same mount throughout"

declare -A ACK=()
while read -r _ name h; do ACK[w/$name]=$h; done < <(grep '^ACK' "$WLOG")

# verify HOW: every pre-kill and acknowledged file, through the mount or cairnctl.
verify() {
  local how=$1 p got n=0
  for p in "${!PRE[@]}" "${!ACK[@]}"; do
    local want=${PRE[$p]:-${ACK[$p]:-}}
    if [[ $how == mount ]]; then
      got=$(sha "$MNT/$p") || fail "$how: cannot read $p"
    else
      timeout 60 "$CAIRNCTL" --server "unix:$N1_SOCK" cat "v1:/$p" >"$T_TMP/got" ||
        fail "$how: cairnctl cat v1:/$p failed"
      got=$(sha "$T_TMP/got")
    fi
    [[ $got == "$want" ]] || fail "$how: $p is damaged"
    n=$((n + 1))
  done
  echo "$n"
}
n=$(verify mount)
pass "all $n files fsynced before the kill or acknowledged are intact through the mount"
n=$(verify cairnctl)
pass "all $n are intact in cairnd (cairnctl cat)"

head -c 300000 /dev/urandom >"$T_TMP/post"
cp "$T_TMP/post" "$MNT/post-restart" || fail "a write after the restart failed"
sync -f "$MNT/post-restart" 2>/dev/null || true
/usr/bin/python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$MNT/post-restart" ||
  fail "fsync after the restart failed"
timeout 60 "$CAIRNCTL" --server "unix:$N1_SOCK" cat v1:/post-restart | cmp - "$T_TMP/post" ||
  fail "a file written after the restart does not reach cairnd"
pass "new writes after the restart work and reach cairnd"

fuse_umount "$MNT"
fuse_mount "$N1_SOCK" v1 "$MNT" timeout=20
n=$(verify mount)
cmp "$MNT/post-restart" "$T_TMP/post" || fail "after a remount post-restart differs"
pass "after unmount and mount all $n files and the post-restart file are intact"
fuse_umount "$MNT"

# ---- Part 2: timeout=1, calls fail with EIO while cairnd is down ----
# entry_timeout=0: no lookup is answered from what the mount knows of a
# directory's names, so the lookup of a new name must reach cairnd.
fuse_mount "$N1_SOCK" v1 "$MNT" timeout=1,entry_timeout=0
FPID=$F_PID
mkdir "$MNT/b"
echo held >"$MNT/b/exists"
echo other >"$MNT/b/other"

# The checker holds a descriptor across the outage; it runs in phases
# driven through a FIFO: "down" (expect EIO), then "up" (expect success,
# retrying for at most 60 s while the channel reconnects).
CTL=$T_TMP/checker.fifo
mkfifo "$CTL"
/usr/bin/python3 - "$MNT/b" "$CTL" >"$T_TMP/checker.out" 2>&1 <<'PY' &
import errno, os, sys, time
d, ctl = sys.argv[1:3]
os.chdir(d)
held = os.open("exists", os.O_WRONLY | os.O_APPEND)
def name(e): return errno.errorcode.get(e, str(e))
n = [0]
def calls(tag):
    n[0] += 1
    k = "%s%d" % (tag, n[0])
    return [
        ("lookup of a new name", lambda: os.stat("never-" + k)),
        ("create", lambda: os.close(os.open("new-" + k, os.O_CREAT | os.O_WRONLY, 0o644))),
        ("mkdir", lambda: os.mkdir("dir-" + k)),
        ("readdir", lambda: os.listdir(".")),
        ("statfs", lambda: os.statvfs(".")),
        ("getxattr", lambda: os.getxattr("other", "user.none")),
        ("write+fsync", lambda: (os.write(held, b"more\n"), os.fsync(held))),
        # 3 MiB: the mount sends it as one stream of 1 MiB pieces
        ("big write+fsync", lambda: (os.write(held, b"m" * (3 << 20)), os.fsync(held))),
        ("rename", lambda: os.rename("other", "other-" + k)),
    ]
bad = {"down": 0, "up": 0}
with open(ctl) as c:
    for phase in c:
        phase = phase.strip()
        if phase == "down":
            for what, f in calls("down"):
                t = time.time()
                try:
                    f()
                    print("# down: %s succeeded" % what)
                    bad["down"] += 1
                except OSError as e:
                    if e.errno == errno.ENODATA and what == "getxattr":
                        print("# down: getxattr answered ENODATA (from a cache?)")
                        bad["down"] += 1
                    elif e.errno != errno.EIO:
                        print("# down: %s: %s, want EIO" % (what, name(e.errno)))
                        bad["down"] += 1
                    else:
                        print("# down: %s: EIO after %.1f s" % (what, time.time() - t))
        elif phase == "up":
            t0 = time.time()
            for what, f in calls("up"):
                while True:
                    try:
                        f()
                        print("# up: %s succeeded %.1f s after the restart" % (what, time.time() - t0))
                        break
                    except OSError as e:
                        if (what, e.errno) in (("getxattr", errno.ENODATA), ("lookup of a new name", errno.ENOENT)):
                            print("# up: %s answered %s %.1f s after the restart" % (what, name(e.errno), time.time() - t0))
                            break
                        # ETIMEDOUT is judged in the down phase; here only recovery counts
                        if e.errno not in (errno.EIO, errno.ETIMEDOUT) or time.time() - t0 > 60:
                            print("# up: %s: %s (%.1f s after the restart)" % (what, name(e.errno), time.time() - t0))
                            bad["up"] += 1
                            break
                        time.sleep(0.2)
        elif phase == "end":
            break
os.close(held)
for phase in ("down", "up"):
    print("RESULT", phase, "bad" if bad[phase] else "good")
PY
CPID=$!
fuse_on_exit "kill -KILL $CPID 2>/dev/null"
exec {ctlfd}>"$CTL"
node_kill n1 KILL
echo down >&$ctlfd
# wait (bounded) for the whole down phase: its 9 calls of about 1 s each (a
# restart before the last one has failed would let it succeed, late)
for ((i = 0; i < 600; i++)); do
  [[ $(grep -c '^# down' "$T_TMP/checker.out" || true) -ge 9 ]] && break
  kill -0 "$CPID" 2>/dev/null || break
  sleep 0.1
done
grep '^# down' "$T_TMP/checker.out" || true
[[ $(grep -c '^# down' "$T_TMP/checker.out" || true) -ge 9 ]] || fail "the down phase did not finish within 60 s"
alive
# A wrong errno is reported at the end, after the recovery has been checked.
down_bad=0
if grep '^# down' "$T_TMP/checker.out" | grep -qv ': EIO after'; then
  down_bad=1
  echo "not ok - timeout=1, cairnd down: some calls did not fail with EIO (lines above)"
else
  pass "timeout=1, cairnd down: lookup, create, mkdir, readdir, statfs, getxattr, fsync and rename fail with EIO; cairn-fuse stays up"
fi

node_start n1
echo up >&$ctlfd
echo end >&$ctlfd
exec {ctlfd}>&-
crc=0
for ((i = 0; i < 1200; i++)); do kill -0 "$CPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$CPID" 2>/dev/null && fail "the checker did not finish within 120 s of the restart"
wait "$CPID" || crc=$?
grep '^# up' "$T_TMP/checker.out"
grep -q '^RESULT up good' "$T_TMP/checker.out" || fail "after the restart the calls did not all succeed (checker exit $crc, above)"
alive
echo after >"$MNT/b/after"
[[ $(timeout 60 "$CAIRNCTL" --server "unix:$N1_SOCK" cat v1:/b/after) == after ]] ||
  fail "a write after the timeout=1 outage does not reach cairnd"
pass "after the restart the same calls succeed through the same mount (no remount)"
# Stopped while the mount holds idle session streams: cairnd ends them at
# once, so the drain never has to cancel calls after its grace period.
node_kill n1 TERM
grep -q 'stopped cleanly' "$N1_DIR/cairnd.log" || fail "cairnd did not stop cleanly under a mount"
! grep -q 'were cancelled' "$N1_DIR/cairnd.log" ||
  fail "stopping cairnd under a mount cancelled calls: $(grep 'were cancelled' "$N1_DIR/cairnd.log")"
pass "SIGTERM under a mount with idle sessions: clean stop, no call cancelled"

# Part 3: a long outage does not leave the mount waiting once cairnd is back.
# gRPC's own reconnect backoff grows to 120 s (after 12 s of failed calls its
# next try would be several seconds away); libcairn caps it at 1 s
# (RPC_RECONNECT_MAX_MS), so 2 s after cairnd answers again, a call through
# the mount (timeout=1) is answered instead of failing with EIO.
for ((i = 0; i < 12; i++)); do
  ! stat "$MNT/gone-$i" 2>/dev/null || fail "a stat through the mount succeeded with cairnd stopped"
done
node_start n1
sleep 2
out=$(stat "$MNT/new-after-outage" 2>&1) || true # ENOENT is the answer wanted
grep -q 'No such file' <<< "$out" ||
  fail "2 s after cairnd came back from a 12 s outage the mount still fails: $out"
pass "after a 12 s outage the mount answers 2 s after cairnd is back"
node_kill n1 TERM
fuse_umount "$MNT"
[[ $down_bad == 0 ]] || fail "with cairnd down and timeout=1, calls failed with another errno than EIO"
