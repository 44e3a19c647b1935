#!/usr/bin/env bash
# test_fuse_limits.sh — what a mount does at cairn's own limits, where a
# local file system has others (so fuse_tour cannot compare them):
#   1. times: a time past 2262 (what 64 bits of nanoseconds hold) is clamped
#      there, not wrapped into 1915; a time half a second before 1970 reads
#      back as it was set (st_mtime_ns -500000000), and so do the exact
#      edges of that range;
#   2. file size: a write that crosses 2^62 (CAIRN_MAX_FILE_SIZE) is cut
#      short there, one at or past it fails with EFBIG at once, and the next
#      ordinary write, fsync and close succeed (the error is not left for
#      the write-behind queue to hand to a later call); through a second
#      mount with writeback_cache the crossing write fails as a whole (the
#      kernel's write-back would drop a short count's rest silently);
#   3. extended attributes: only user.* (trusted.* and names without a
#      namespace: EOPNOTSUPP), as README says;
#   4. asof= a time to come: cairn-fuse refuses to mount (one line, exit 2,
#      as for any bad option): its view would change under hour-long caches.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fuse_lib.sh"

node_start n1
make_volume n1 v1 1 64M
M=$T_TMP/m
W=$T_TMP/w
fuse_mount "$N1_SOCK" v1 "$M"
fuse_mount "$N1_SOCK" v1 "$W" writeback_cache

/usr/bin/python3 - "$M" "$W" <<'PY' || fail "limits through the mount (above)"
import errno, os, sys
m = sys.argv[1]
bad = []
def want(what, cond):
    print(("ok - " if cond else "not ok - ") + what)
    if not cond:
        bad.append(what)

# 1. times
p = os.path.join(m, "t")
open(p, "w").close()
os.utime(p, ns=(0, 16725225600 * 10**9))  # 2500-01-01
st = os.stat(p)
want("a time past 2262 is clamped (mtime_ns %d)" % st.st_mtime_ns,
     st.st_mtime_ns >= 9223372035 * 10**9)
os.utime(p, ns=(0, -500000000))
st = os.stat(p)
want("half a second before 1970 reads back (mtime_ns %d)" % st.st_mtime_ns,
     st.st_mtime_ns == -500000000)
for ns in (9223372036 * 10**9, 2**63 - 1, -2**63, -9223372036 * 10**9, -9223372036854775807):
    os.utime(p, ns=(0, ns))
    got = os.stat(p).st_mtime_ns
    want("the edge time %d reads back (%d)" % (ns, got), got == ns)

# 2. file size
LIM = 1 << 62
p = os.path.join(m, "big")
fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
n = os.pwrite(fd, b"12345", LIM - 2)
want("a write crossing 2^62 is cut short (%d of 5 bytes)" % n, n == 2)
try:
    os.pwrite(fd, b"x", LIM)
    want("a write at 2^62 fails with EFBIG", False)
except OSError as e:
    want("a write at 2^62 fails with EFBIG (%s)" % errno.errorcode.get(e.errno), e.errno == errno.EFBIG)
n = os.pwrite(fd, b"ok", 0)
want("the next ordinary write succeeds (%d)" % n, n == 2)
os.fsync(fd)
os.close(fd)
with open(p, "rb") as f:
    want("it reads back", f.read(2) == b"ok")
want("the size is 2^62 (%d)" % os.stat(p).st_size, os.stat(p).st_size == LIM)

# 2b. the same limit with writeback_cache (the second mount): the kernel's
# write-back ignores a short count, so the write that crosses 2^62 must fail
# as a whole and its error reach fsync
wb = sys.argv[2]
p = os.path.join(wb, "bigwb")
fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
err = None
try:
    os.pwrite(fd, b"12345", LIM - 2)
    os.fsync(fd)
except OSError as e:
    err = e.errno
want("writeback_cache: a write crossing 2^62 fails (%s)" % errno.errorcode.get(err),
     err in (errno.EFBIG, errno.EIO))
try:
    os.close(fd)
except OSError:
    pass

# 3. xattrs
p = os.path.join(m, "x")
open(p, "w").close()
os.setxattr(p, "user.ok", b"1")
want("user.* is kept", os.getxattr(p, "user.ok") == b"1")
for name in ("trusted.t", "nonamespace"):
    try:
        os.setxattr(p, name, b"1")
        want("%s is refused" % name, False)
    except OSError as e:
        want("%s is refused (%s)" % (name, errno.errorcode.get(e.errno)),
             e.errno in (errno.EOPNOTSUPP, errno.ENOTSUP))
sys.exit(1 if bad else 0)
PY
pass "times, the file size limit and xattr namespaces through the mount"

rc=0
mkdir -p "$T_TMP/f"
future=$(( $(date +%s) + 86400 ))
"$T_BUILD/fsadapter/cairn-fuse" --server "unix:$N1_SOCK" -o "asof=@$future" v1 "$T_TMP/f" \
  > "$T_TMP/future.out" 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "asof= a time to come: cairn-fuse exited $rc, want 2: $(cat "$T_TMP/future.out")"
[[ $(wc -l < "$T_TMP/future.out") == 1 ]] && grep -q 'is in the future' "$T_TMP/future.out" ||
  fail "asof= a time to come: $(cat "$T_TMP/future.out")"
pass "asof= a time to come: refused with one line"
