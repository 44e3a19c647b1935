#!/usr/bin/env bash
# test_fuse_cache.sh — what cairn-fuse answers without asking cairnd: the
# parent directory's attributes after a create or unlink, and attributes
# fetched with a directory listing (attrcache.c); "no such name", and the
# inode of a name, from a small directory's known name list (negcache.c).
#
# Two mounts A and B of one volume on one node. Checked:
#  1. creating 200 files round-robin in 10 directories new to A costs fewer
#     than 20 Lookup and 20 GetAttr calls at cairnd (counted by /metrics),
#     where one of each per file was the cost before; the files are all there;
#  2. A never hides its own names: after the kernel dropped its dentries,
#     every file A made, renamed or linked is found and every file A removed
#     is gone, and `ls` shows exactly that;
#  3. stat of every file by path, after the kernel dropped its dentries,
#     costs fewer than 20 Lookup calls; and what it shows is never older
#     than A's own changes: a write (appended, through the write-behind
#     queue), chmod, truncation by O_TRUNC, a hard link made and removed
#     (link counts), an unlinked file still open (fstat: 0 links);
#  4. a name made through B in a directory whose list A holds becomes visible
#     in A within entry_timeout (1 s by default; the test allows 1.5 s),
#     also when A had already looked it up and been told it is absent; a
#     size changed through B shows in A within attr_timeout;
#  5. with entry_timeout=0 nothing is answered from a list: B's new name is
#     visible in A at once.
#  6. a listing read over many READDIRPLUS requests never gives the kernel
#     attributes or names older than A's own changes (dir.c (3)), with
#     attr_timeout=entry_timeout=30 so that nothing expires meanwhile: in a
#     directory of 302 names, between the first and the later getdents of
#     one listing, a file open O_APPEND grows by 100 bytes and another name
#     is unlinked; a second append must land after the first (the listing
#     must not shrink the size back), the unlinked name must stay gone and
#     be creatable with O_EXCL; and a rewinddir on the same handle shows a
#     name made after the first pass;
#  7. a name made through B while A still believes it absent (A looked it
#     up first; entry_timeout=30): open(O_CREAT) in A without O_EXCL opens
#     the existing file as on a local disk (O_APPEND appends to B's bytes,
#     O_TRUNC truncates), opens a FIFO as the FIFO and follows a symlink
#     (never EEXIST without O_EXCL), with O_EXCL fails EEXIST, on a directory
#     fails EISDIR, and for a user without write permission on the file (in a
#     directory everyone may write) fails EACCES (A is mounted allow_other).
#  8. the write-behind queue (wbehind.c (6)): a small write to a file kept
#     open reaches cairnd (cairnctl cat shows it) within 10 s (about 1 s is
#     promised; without the sender's look it never does) although nothing
#     closes or syncs it; 200 small files written and closed cost exactly 200
#     Write calls, and each one's bytes are at cairnd as soon as its close
#     returned.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fuse_lib.sh"

node_start n1
make_volume n1 v1 1 256M
A=$T_TMP/a
B=$T_TMP/b
fuse_mount "$N1_SOCK" v1 "$A"
fuse_mount "$N1_SOCK" v1 "$B"

# calls METHOD: how many calls of Fs.METHOD cairnd has served so far.
calls() {
  curl -sS --max-time 10 "http://$N1_METRICS/metrics" |
    awk -v m="Fs.$1" 'index($0, "cairn_rpc_requests_total{method=\"" m "\"") == 1 { n += $2 }
                      END { print n + 0 }'
}
drop_dentries() {
  sync
  echo 2 >/proc/sys/vm/drop_caches
}

# ---- 1: round trips saved ----
mkdir "$A/top"
for ((d = 0; d < 10; d++)); do mkdir "$A/top/d$d"; done
l0=$(calls Lookup)
g0=$(calls GetAttr)
for ((i = 0; i < 200; i++)); do
  echo "file $i" >"$A/top/d$((i % 10))/f$i"
done
l1=$(calls Lookup)
g1=$(calls GetAttr)
echo "# 200 creates: $((l1 - l0)) Lookup and $((g1 - g0)) GetAttr calls"
((l1 - l0 < 20)) || fail "200 creates in new directories cost $((l1 - l0)) Lookup calls (want < 20)"
((g1 - g0 < 20)) || fail "200 creates cost $((g1 - g0)) GetAttr calls (want < 20)"
pass "200 creates in 10 new directories: $((l1 - l0)) Lookup and $((g1 - g0)) GetAttr calls"
n=$(find "$B/top" -type f | wc -l)
[[ $n == 200 ]] || fail "B sees $n of the 200 files"
pass "all 200 files are there, seen through the other mount"

# ---- 2: A's own changes are never hidden ----
for ((i = 0; i < 200; i += 3)); do rm "$A/top/d$((i % 10))/f$i"; done
mv "$A/top/d1/f1" "$A/top/d2/moved"
ln "$A/top/d4/f4" "$A/top/d5/linked"
mkdir "$A/top/d6/sub"
echo x >"$A/top/d6/sub/inner"
drop_dentries
missing=0
extra=0
for ((i = 0; i < 200; i++)); do
  p=$A/top/d$((i % 10))/f$i
  if ((i % 3 == 0)) || ((i == 1)); then
    [[ -e $p ]] && extra=$((extra + 1))
  else
    [[ -e $p ]] || missing=$((missing + 1))
  fi
done
for p in "$A/top/d2/moved" "$A/top/d5/linked" "$A/top/d6/sub/inner"; do
  [[ -e $p ]] || missing=$((missing + 1))
done
[[ $missing == 0 && $extra == 0 ]] ||
  fail "after dropping dentries A misses $missing of its own names and still shows $extra removed ones"
pass "after dropping dentries A finds every name it made, moved or linked, and none it removed"
(cd "$A/top" && find . | sort) >"$T_TMP/a.list"
(cd "$B/top" && find . | sort) >"$T_TMP/b.list"
cmp -s "$T_TMP/a.list" "$T_TMP/b.list" || {
  diff "$T_TMP/a.list" "$T_TMP/b.list" | head
  fail "A's and B's listings of the tree differ"
}
pass "A and B list the same tree ($(wc -l <"$T_TMP/a.list") names)"

# ---- 3: attributes from lists, and A's own changes ----
drop_dentries
l0=$(calls Lookup)
n=0
for ((i = 0; i < 200; i++)); do
  if stat -c %s "$A/top/d$((i % 10))/f$i" >/dev/null 2>&1; then n=$((n + 1)); fi
done
l1=$(calls Lookup)
echo "# stat of 200 names ($n there): $((l1 - l0)) Lookup calls"
[[ $n == 132 ]] || fail "stat found $n of the 132 files left"
((l1 - l0 < 20)) || fail "stat of 200 names cost $((l1 - l0)) Lookup calls (want < 20)"
pass "stat of 200 names after dropping dentries: $((l1 - l0)) Lookup calls"
F=$A/top/d2/f2
s0=$(stat -c %s "$F")
printf more >>"$F"
drop_dentries
[[ $(stat -c %s "$F") == $((s0 + 4)) ]] || fail "after an append through A, A shows size $(stat -c %s "$F"), want $((s0 + 4))"
chmod 0600 "$A/top/d2/f22"
drop_dentries
[[ $(stat -c %a "$A/top/d2/f22") == 600 ]] || fail "after chmod 0600 through A, A shows mode $(stat -c %a "$A/top/d2/f22")"
: >"$A/top/d2/f22"
drop_dentries
[[ $(stat -c %s "$A/top/d2/f22") == 0 ]] || fail "after O_TRUNC through A, A shows size $(stat -c %s "$A/top/d2/f22")"
ln "$A/top/d2/f32" "$A/top/d3/hl"
drop_dentries
[[ $(stat -c %h "$A/top/d2/f32") == 2 ]] || fail "after ln through A, A shows $(stat -c %h "$A/top/d2/f32") links, want 2"
rm "$A/top/d3/hl"
drop_dentries
[[ $(stat -c %h "$A/top/d2/f32") == 1 ]] || fail "after rm of the link through A, A shows $(stat -c %h "$A/top/d2/f32") links, want 1"
stat -c %s "$A/top/d2/f52" >/dev/null
links=$(/usr/bin/python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY); os.unlink(sys.argv[1]); print(os.fstat(fd).st_nlink)' "$A/top/d2/f52")
[[ $links == 0 ]] || fail "an unlinked file still open shows $links links in fstat, want 0"
pass "A's stat shows its own append, chmod, O_TRUNC, link and unlink at once, after dropping dentries"

# ---- 4: names and sizes changed elsewhere show within the timeouts ----
# within SECONDS CMD...: polls CMD (every 0.1 s) until it succeeds; 1 if it
# never did within SECONDS.
within() {
  local i n
  n=$(awk -v s="$1" 'BEGIN { print int(s * 10) }')
  shift
  for ((i = 0; i <= n; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
size_is() { [[ $(stat -c %s "$1") == "$2" ]]; }
mkdir "$A/fresh"
[[ -e $A/fresh/x ]] && fail "A sees fresh/x before anyone made it"
echo from-b >"$B/fresh/x"
within 1.5 test -e "$A/fresh/x" || fail "fresh/x made through B is not visible in A after 1.5 s"
[[ $(cat "$A/fresh/x") == from-b ]] || fail "A reads other bytes from fresh/x"
pass "a name made through B shows in A within entry_timeout, after A was told it is absent"
# A directory A did not make: its list is fetched after a miss.
for ((i = 0; i < 3; i++)); do [[ -e $A/top/d7/nothing$i ]] && fail "top/d7/nothing$i exists"; done
echo b >"$B/top/d7/nothing0"
within 1.5 test -e "$A/top/d7/nothing0" || fail "top/d7/nothing0 made through B is not visible in A after 1.5 s"
pass "the same in a directory whose list A fetched after misses"
F=$A/top/d4/f4
s0=$(stat -c %s "$F")
printf xyz >>"$B/top/d4/f4"
within 1.5 size_is "$F" $((s0 + 3)) || fail "a size changed through B does not show in A after 1.5 s"
pass "a size changed through B shows in A within attr_timeout"

# ---- 5: entry_timeout=0 ----
fuse_umount "$A"
fuse_mount "$N1_SOCK" v1 "$A" entry_timeout=0
mkdir "$A/strict"
[[ -e $A/strict/y ]] && fail "A sees strict/y before anyone made it"
echo b >"$B/strict/y"
[[ -e $A/strict/y ]] || fail "with entry_timeout=0, strict/y made through B is not visible in A at once"
pass "with entry_timeout=0 a name made through B is visible in A at once"

# ---- 6: a listing read in many requests ----
fuse_umount "$A"
fuse_mount "$N1_SOCK" v1 "$A" allow_other,attr_timeout=30,entry_timeout=30
/usr/bin/python3 - "$A/big" <<'PY' || fail "a listing gave the kernel attributes or names older than A's changes (above)"
import os, sys
d = sys.argv[1]
os.mkdir(d)
for i in range(900):
    with open(f"{d}/f{i:03d}", "w") as f:
        f.write("x")
with open(f"{d}/zlog", "w") as f:
    f.write("0123456789")
fd = os.open(f"{d}/zlog", os.O_WRONLY | os.O_APPEND)
it = os.scandir(d)
next(it)  # the first getdents: the whole page is fetched, with attributes
os.write(fd, b"a" * 100)
os.unlink(f"{d}/f800")
seen = 1
for e in it:  # the later getdents, READDIRPLUS while entries are looked at
    seen += 1
    try:
        os.stat(e.path)
    except FileNotFoundError:
        pass
os.write(fd, b"b" * 100)
os.close(fd)
with open(f"{d}/zlog", "rb") as f:
    got = f.read()
want = b"0123456789" + b"a" * 100 + b"b" * 100
if got != want:
    sys.exit(f"zlog: {len(got)} bytes, want {len(want)} (the second O_APPEND write overwrote the first)")
if os.path.exists(f"{d}/f800"):
    sys.exit("f800 exists after its unlink (a listing made a dentry for it)")
os.close(os.open(f"{d}/f800", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
first = set(os.listdir(dfd))
with open(f"{d}/new", "w") as f:
    f.write("n")
again = set(os.listdir(dfd))  # rewinddir on the same open directory
os.close(dfd)
if "new" in first or "new" not in again:
    sys.exit(f"rewinddir: 'new' in first pass {'new' in first}, in second {'new' in again}")
print(f"# listing of {seen} names over many requests: appends, unlink and rewinddir consistent")
PY
pass "a listing read over many requests never undoes A's append or unlink; rewinddir lists afresh"

# ---- 7: O_CREAT of a name made elsewhere while A believed it absent ----
chmod 0755 "$T_TMP"
mkdir -m 0777 "$A/late" "$A/late2" "$A/late3"
for n in app trunc excl dir perm fifo link; do
  [[ -e $A/late/$n ]] && fail "late/$n exists before anyone made it"
done
[[ -e $A/late2/l || -e $A/late3/f ]] && fail "late2/l or late3/f exists before anyone made it"
printf 'from B\n' >"$B/late/app"
printf 'from B\n' >"$B/late/trunc"
printf 'from B\n' >"$B/late/excl"
printf 'from B\n' >"$B/late/perm"
chmod 0644 "$B/late/perm"
mkdir "$B/late/dir"
mkfifo "$B/late/fifo"
ln -s app "$B/late/link"
mkfifo "$B/late3/f"
ln -s ../late3/f "$B/late2/l" # into another directory whose list A holds
/usr/bin/python3 - "$A/late" <<'PY' || fail "open(O_CREAT) of a name A believed absent (above)"
import errno, os, sys
d = sys.argv[1]
fd = os.open(f"{d}/app", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.write(fd, b"from A\n")
os.close(fd)
with open(f"{d}/app", "rb") as f:
    got = f.read()
if got != b"from B\nfrom A\n":
    sys.exit(f"O_CREAT|O_APPEND: {got!r}")
fd = os.open(f"{d}/trunc", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.close(fd)
if os.stat(f"{d}/trunc").st_size != 0:
    sys.exit("O_CREAT|O_TRUNC left bytes")
# a FIFO opens as the FIFO, a symlink is followed (never EEXIST without O_EXCL)
fd = os.open(f"{d}/fifo", os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, 0o644)
import stat
if not stat.S_ISFIFO(os.fstat(fd).st_mode):
    sys.exit("O_CREAT of B's FIFO opened something else")
os.close(fd)
fd = os.open(f"{d}/link", os.O_RDONLY | os.O_CREAT, 0o644)
if os.read(fd, 100) != b"from B\nfrom A\n":
    sys.exit("O_CREAT of B's symlink did not open its target")
os.close(fd)
fd = os.open(f"{d}2/l", os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, 0o644)
if not stat.S_ISFIFO(os.fstat(fd).st_mode):
    sys.exit("O_CREAT of B's symlink to a FIFO in another directory opened something else")
os.close(fd)
for name, flags, want in (("excl", os.O_EXCL, errno.EEXIST), ("dir", 0, errno.EISDIR)):
    try:
        os.close(os.open(f"{d}/{name}", os.O_WRONLY | os.O_CREAT | flags, 0o644))
        sys.exit(f"{name}: open(O_CREAT) succeeded, want {errno.errorcode[want]}")
    except OSError as e:
        if e.errno != want:
            sys.exit(f"{name}: {e}, want {errno.errorcode[want]}")
PY
[[ -e $A/late/perm ]] && fail "A already sees late/perm (its negative entry expired?)"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import os, sys
try:
    os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
    print("opened")
except OSError as e:
    print(e.strerror)' "$A/late/perm" 2>&1)
[[ $out == "Permission denied" ]] || fail "nobody's open(O_CREAT|O_WRONLY) of B's 0644 file: $out, want Permission denied"
pass "open(O_CREAT) of a name made through B while A believed it absent opens it (O_APPEND, O_TRUNC, a FIFO, a symlink's target); EEXIST with O_EXCL, EISDIR, EACCES"

# ---- 8: the write-behind queue's lone small writes ----
mkdir "$A/wb"
# one write(2), then the descriptor stays open (no close, no dup: a shell
# redirection would close a duplicate, and that close sends the write)
/usr/bin/python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"lone bytes")
print("written", flush=True)
time.sleep(30)' "$A/wb/lone" >"$T_TMP/holder.out" &
holder=$!
T_PIDS+=("$holder")
for ((i = 0; i < 100; i++)); do
  [[ -s $T_TMP/holder.out ]] && break
  sleep 0.05
done
start=$(date +%s%N)
seen=0
while (($(date +%s%N) - start < 10000000000)); do
  [[ $(ctl n1 cat v1:/wb/lone 2>/dev/null) == "lone bytes" ]] && { seen=1; break; }
  sleep 0.05
done
kill -0 "$holder" 2>/dev/null || fail "the writer holding wb/lone open is gone"
kill "$holder"
((seen)) || fail "a small write to a file kept open did not reach cairnd within 10 s"
w0=$(calls Write)
for ((i = 0; i < 200; i++)); do
  printf 'small %d' "$i" >"$A/wb/s$i"
  if ((i % 50 == 0)); then
    [[ $(ctl n1 cat "v1:/wb/s$i") == "small $i" ]] || fail "wb/s$i is not at cairnd after its close"
  fi
done
w1=$(calls Write)
((w1 - w0 == 200)) || fail "200 small files written and closed cost $((w1 - w0)) Write calls, want 200"
for ((i = 0; i < 200; i++)); do
  [[ $(cat "$B/wb/s$i") == "small $i" ]] || fail "B reads wb/s$i as '$(cat "$B/wb/s$i")'"
done
pass "a lone small write reaches cairnd unclosed; 200 small files: 200 Write calls, each at cairnd by its close"

fuse_umount "$A"
fuse_umount "$B"
node_kill n1 TERM
