#!/usr/bin/env bash
# test_fuse_history.sh — past views through cairn-fuse, and mounting with
# mount(8).
#
#   - A snapshot (cairnctl snapshot create) mounted beside the live volume
#     with -o snapshot=s1 shows the bytes, names, modes and link targets of
#     the moment it was taken after the live files were modified, appended,
#     deleted, renamed, chmodded and added to; the live mount shows the new
#     state. Both are compared with local copies of each state.
#   - Every change in the snapshot mount fails with EROFS (system calls, and
#     touch, rm, mkdir, echo >), and statvfs reports it read-only.
#   - -o asof=MILLISECONDS, asof=@SECONDS and asof=ISO-8601 mount the state
#     at that time; a missing snapshot, or snapshot= with asof=, is refused.
#   - `mount -t cairn VOLUME MNT -o server=unix:SOCK` and an fstab line
#     (`mount -T FILE MNT`) mount the volume; plain `umount` unmounts it.
#     mount(8) finds helpers only in /sbin, so the test links
#     /sbin/mount.cairn to the build's mount.cairn for its duration (under a
#     lock, so two runs do not race) and removes the link at exit.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fuse_lib.sh"

node_start n1
make_volume n1 v1 2 256M
LIVE=$T_TMP/live
S1=$T_TMP/state1
S2=$T_TMP/state2
fuse_mount "$N1_SOCK" v1 "$LIVE"

now_ms() { /usr/bin/python3 -c 'import time; print(int(time.time() * 1000))'; }

# describe DIR: every entry's type, mode, size, link target and sha256.
describe() {
  (cd "$1" && find . -mindepth 1 \( -type d -printf '%y %m - %p\n' \) -o \( -type l -printf '%y - %s %p -> %l\n' \) -o -printf '%y %m %s %p\n' | LC_ALL=C sort
   cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}
same_as() { # same_as WANT_DIR GOT_DIR WHAT
  describe "$1" >"$T_TMP/want.desc"
  describe "$2" >"$T_TMP/got.desc"
  if ! cmp -s "$T_TMP/want.desc" "$T_TMP/got.desc"; then
    diff "$T_TMP/want.desc" "$T_TMP/got.desc" | head -20 || true
    fail "$3"
  fi
}

# State 1, written into the mount and into a local copy alike.
make_state1() {
  local d=$1
  mkdir -p "$d/d" "$d/keep"
  echo "version one" >"$d/a.txt"
  echo "bee" >"$d/b.txt"
  chmod 0600 "$d/b.txt"
  echo "sea" >"$d/d/c.txt"
  head -c 3000000 "$T_TMP/random" >"$d/big.bin"
  ln -s a.txt "$d/l"
  : >"$d/keep/empty"
}
# State 2: modify, append, delete, rename, chmod, add.
make_state2() {
  local d=$1
  printf 'version two, longer than one\n' >"$d/a.txt"
  head -c 500000 "$T_TMP/random" >>"$d/big.bin"
  dd if=/dev/zero of="$d/big.bin" bs=1 count=4096 seek=1000000 conv=notrunc status=none
  rm "$d/b.txt" "$d/l"
  mv "$d/d/c.txt" "$d/d/c2.txt"
  chmod 0640 "$d/a.txt"
  echo new >"$d/n.txt"
  mkdir "$d/newdir"
}
head -c 4000000 /dev/urandom >"$T_TMP/random"
make_state1 "$S1"
make_state1 "$LIVE"
same_as "$S1" "$LIVE" "the live mount does not hold state 1"
sleep 0.3
T1=$(now_ms)
sleep 0.3
ctl n1 snapshot create v1 s1 >/dev/null || fail "snapshot create"
sleep 0.3
cp -a "$S1" "$S2"
make_state2 "$S2"
make_state2 "$LIVE"
same_as "$S2" "$LIVE" "the live mount does not hold state 2"
pass "live mount: state 1 written, snapshot s1 taken, state 2 written over it"

SNAP=$T_TMP/snap
fuse_mount_bg "$N1_SOCK" v1 "$SNAP" snapshot=s1 # daemonized, as users run it
same_as "$S1" "$SNAP" "the snapshot mount does not show state 1"
pass "snapshot mount beside the live one shows the old bytes, names, modes and links"
same_as "$S2" "$LIVE" "the live mount changed when the snapshot was mounted"
echo "changed again" >>"$LIVE/a.txt"
echo "changed again" >>"$S2/a.txt"
rm "$LIVE/big.bin" "$S2/big.bin"
same_as "$S1" "$SNAP" "the snapshot mount changed with the live volume"
same_as "$S2" "$LIVE" "the live mount lost a change"
pass "live changes while the snapshot is mounted leave the snapshot as it was"

ASOF=$T_TMP/asof
fuse_mount "$N1_SOCK" v1 "$ASOF" "asof=$T1"
same_as "$S1" "$ASOF" "the asof=$T1 mount does not show state 1"
pass "asof=<milliseconds> mount shows the state at that time"

# EROFS in the snapshot mount, errno by errno.
/usr/bin/python3 - "$SNAP" <<'PY' || fail "a change in the snapshot mount did not fail with EROFS (above)"
import errno, os, sys
os.chdir(sys.argv[1])
def fifo(): os.mkfifo("fifo")
def xattr(): os.setxattr("a.txt", "user.x", b"1")
def rmx(): os.removexattr("a.txt", "user.x")
calls = {
    "create": lambda: os.open("new", os.O_CREAT | os.O_WRONLY, 0o644),
    "open O_WRONLY": lambda: os.open("a.txt", os.O_WRONLY),
    "open O_RDWR": lambda: os.open("a.txt", os.O_RDWR),
    "open O_TRUNC": lambda: os.open("a.txt", os.O_WRONLY | os.O_TRUNC),
    "open O_APPEND": lambda: os.open("a.txt", os.O_WRONLY | os.O_APPEND),
    "unlink": lambda: os.unlink("a.txt"),
    "mkdir": lambda: os.mkdir("nd"),
    "rmdir": lambda: os.rmdir("keep"),
    "rename": lambda: os.rename("a.txt", "z.txt"),
    "rename across dirs": lambda: os.rename("a.txt", "d/a.txt"),
    "chmod": lambda: os.chmod("a.txt", 0o777),
    "chown": lambda: os.chown("a.txt", 1, 1),
    "utime": lambda: os.utime("a.txt", (1, 1)),
    "utime now": lambda: os.utime("a.txt"),
    "truncate": lambda: os.truncate("a.txt", 0),
    "symlink": lambda: os.symlink("a.txt", "l2"),
    "link": lambda: os.link("a.txt", "a2"),
    "mkfifo": fifo,
    "setxattr": xattr,
    "removexattr": rmx,
}
bad = 0
for name, f in calls.items():
    try:
        f()
        print("# %s succeeded in the snapshot mount" % name)
        bad += 1
    except OSError as e:
        if e.errno != errno.EROFS:
            print("# %s: %s, want EROFS" % (name, errno.errorcode.get(e.errno, e.errno)))
            bad += 1
st = os.statvfs(".")
if not st.f_flag & os.ST_RDONLY:
    print("# statvfs f_flag lacks ST_RDONLY")
    bad += 1
print("# %d calls checked" % len(calls))
sys.exit(1 if bad else 0)
PY
pass "snapshot mount: 20 kinds of change fail with EROFS; statvfs says read-only"
for cmd in "touch $SNAP/a.txt" "touch $SNAP/new" "rm -f $SNAP/a.txt" "mkdir $SNAP/nd" "rm -rf $SNAP/d" \
           "mv $SNAP/a.txt $SNAP/b" "cp $T_TMP/random $SNAP/r"; do
  if $cmd 2>"$T_TMP/err"; then fail "'$cmd' succeeded in the snapshot mount"; fi
  grep -q 'Read-only file system' "$T_TMP/err" || fail "'$cmd': $(cat "$T_TMP/err"), want 'Read-only file system'"
done
if (echo x >"$SNAP/a.txt") 2>"$T_TMP/err"; then fail "echo > a.txt succeeded in the snapshot mount"; fi
grep -q 'Read-only file system' "$T_TMP/err" || fail "echo > a.txt: $(cat "$T_TMP/err")"
same_as "$S1" "$SNAP" "the snapshot mount changed after refused writes"
pass "snapshot mount: touch, rm, mkdir, mv, cp and echo > fail with 'Read-only file system'; nothing changed"
fuse_umount "$SNAP"
fuse_umount "$ASOF"

# Refused views.
rc1=0
timeout 30 "$CAIRN_FUSE" --server "unix:$N1_SOCK" v1 "$SNAP" -o snapshot=nope 2>"$T_TMP/err" || rc1=$?
mountpoint -q "$SNAP" && fail "a missing snapshot was mounted"
[[ $rc1 != 0 ]] || fail "cairn-fuse -o snapshot=nope exited 0"
grep -qi 'nope' "$T_TMP/err" || fail "cairn-fuse -o snapshot=nope does not name the snapshot: $(cat "$T_TMP/err")"
rc=0
timeout 30 "$CAIRN_FUSE" --server "unix:$N1_SOCK" v1 "$SNAP" -o snapshot=s1,asof=$T1 2>"$T_TMP/err" || rc=$?
mountpoint -q "$SNAP" && fail "snapshot= with asof= was mounted"
[[ $rc != 0 ]] || fail "cairn-fuse -o snapshot=s1,asof=... exited 0"
pass "a missing snapshot (exit $rc1, the name in the message) and snapshot= with asof= (exit $rc) are refused"

# asof=@SECONDS and asof=ISO-8601 to the second mean the end of that second
# (client/at.c): x.txt is "one" through second S (written before S ended),
# "two" from S+1.05 on.
echo one >"$LIVE/x.txt"
S=$(/usr/bin/python3 -c 'import time; print(int(time.time()))')
/usr/bin/python3 -c "import time; time.sleep(max(0, $S + 1.05 - time.time()))"
echo two >"$LIVE/x.txt"
ISO=$(date -u -d "@$S" +%Y-%m-%dT%H:%M:%SZ)
fuse_mount "$N1_SOCK" v1 "$ASOF" "asof=@$S"
[[ $(cat "$ASOF/x.txt") == one ]] || fail "asof=@$S: x.txt is '$(cat "$ASOF/x.txt")', want 'one'"
fuse_umount "$ASOF"
fuse_mount "$N1_SOCK" v1 "$ASOF" "asof=$ISO"
[[ $(cat "$ASOF/x.txt") == one ]] || fail "asof=$ISO: x.txt is '$(cat "$ASOF/x.txt")', want 'one'"
fuse_umount "$ASOF"
fuse_mount "$N1_SOCK" v1 "$ASOF" "asof=$(now_ms)"
[[ $(cat "$ASOF/x.txt") == two ]] || fail "asof=now: x.txt is '$(cat "$ASOF/x.txt")', want 'two'"
fuse_umount "$ASOF"
pass "asof=@SECONDS and asof=ISO-8601 show the state of that second; asof=now the latest"

# mount(8): /sbin/mount.cairn -> the build's mount.cairn, for this test only.
HELPER=/sbin/mount.cairn
exec {lock}>/tmp/cairn-mount-helper.lock
flock -w 300 "$lock" || fail "another test holds /tmp/cairn-mount-helper.lock"
if [[ -e $HELPER || -L $HELPER ]]; then
  [[ -L $HELPER ]] || fail "$HELPER exists and is not a link; not replacing an installed helper"
  OLD_HELPER=$(readlink "$HELPER")
  fuse_on_exit "ln -sfn '$OLD_HELPER' '$HELPER'"
else
  fuse_on_exit "rm -f '$HELPER'"
fi
ln -sfn "$MOUNT_CAIRN" "$HELPER"

M3=$T_TMP/m3
mkdir -p "$M3"
fuse_track "$M3"
mount -t cairn v1 "$M3" -o "server=unix:$N1_SOCK" || fail "mount -t cairn failed"
mountpoint -q "$M3" || fail "mount -t cairn exited 0 but $M3 is not mounted"
[[ $(findmnt -n -o FSTYPE "$M3") == fuse.cairn ]] || fail "fstype is $(findmnt -n -o FSTYPE "$M3"), want fuse.cairn"
[[ $(findmnt -n -o SOURCE "$M3") == cairn:v1 ]] || fail "source is $(findmnt -n -o SOURCE "$M3"), want cairn:v1"
cmp "$M3/a.txt" "$S2/a.txt" || fail "mount -t cairn: a.txt differs from the live state"
echo "via mount -t" >"$M3/m3.txt"
# A new name may stay unseen by another mount for entry_timeout (1 s).
for ((i = 0; i < 20; i++)); do [[ -e $LIVE/m3.txt ]] && break; sleep 0.1; done
[[ $(cat "$LIVE/m3.txt") == "via mount -t" ]] || fail "a write through mount -t cairn is not seen by the other mount"
pid=$(fuse_pid "$M3") || fail "no cairn-fuse process serves $M3"
umount "$M3" || fail "umount $M3 failed"
mountpoint -q "$M3" && fail "$M3 still mounted after umount"
for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && fail "cairn-fuse ($pid) still runs 10 s after umount"
pass "mount -t cairn v1 MNT -o server=unix:SOCK mounts (fuse.cairn, cairn:v1, read and write); umount unmounts"

mount -t cairn v1 "$M3" -o "server=unix:$N1_SOCK,snapshot=s1" || fail "mount -t cairn -o snapshot=s1 failed"
findmnt -n -o OPTIONS "$M3" | grep -qw ro || fail "mount -o snapshot=s1 is not read-only: $(findmnt -n -o OPTIONS "$M3")"
same_as "$S1" "$M3" "mount -t cairn -o snapshot=s1 does not show state 1"
umount "$M3" || fail "umount of the snapshot failed"
pass "mount -t cairn -o snapshot=s1 mounts the snapshot read-only"

FSTAB=$T_TMP/fstab
M4=$T_TMP/m4
mkdir -p "$M4"
fuse_track "$M4"
printf '# test fstab\nv1  %s  cairn  server=unix:%s,_netdev,noauto,x-test=1  0  0\n' "$M4" "$N1_SOCK" >"$FSTAB"
mount -T "$FSTAB" "$M4" || fail "mount -T $FSTAB $M4 failed"
mountpoint -q "$M4" || fail "mount -T exited 0 but $M4 is not mounted"
cmp "$M4/m3.txt" "$LIVE/m3.txt" || fail "the fstab mount does not show the live volume"
umount "$M4" || fail "umount $M4 failed"
mountpoint -q "$M4" && fail "$M4 still mounted after umount"
pass "an fstab line (mount -T FILE MNT, with _netdev,noauto,x-* options) mounts; umount unmounts"

# Options that make no sense are refused before anything is mounted: exit
# 2 with one line. A mount ended by SIGTERM unmounts and exits 0.
M5=$T_TMP/m5
mkdir -p "$M5"
fuse_track "$M5"
for o in timeout=-1 timeout=9999999 timeout=30s attr_timeout=-5 attr_timeout=1abc entry_timeout=nan \
  readahead_kb=-1 snapshot=s,asof=@1; do
  rc=0
  "$CAIRN_FUSE" --server "unix:$N1_SOCK" v1 "$M5" -f -o "$o" 2>"$T_TMP/opterr" || rc=$?
  [[ $rc == 2 ]] || fail "cairn-fuse -o $o exited $rc, want 2"
  [[ $(wc -l <"$T_TMP/opterr") == 1 ]] || fail "cairn-fuse -o $o: $(cat "$T_TMP/opterr")"
  mountpoint -q "$M5" && fail "cairn-fuse -o $o mounted"
done
"$CAIRN_FUSE" --server "unix:$N1_SOCK" v1 "$M5" -f 2>>"$T_TMP/m5.log" &
pid=$!
f_wait_mounted "$M5" "$pid"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[[ $rc == 0 ]] || fail "cairn-fuse exited $rc after SIGTERM, want 0"
mountpoint -q "$M5" && fail "$M5 still mounted after SIGTERM"
pass "nonsense options exit 2 with one line; SIGTERM unmounts and exits 0"

fuse_umount "$LIVE"
node_kill n1 TERM
