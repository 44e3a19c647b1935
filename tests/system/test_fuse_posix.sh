#!/usr/bin/env bash
# test_fuse_posix.sh — POSIX behaviour through a real cairn-fuse mount,
# checked against a local directory.
#
# One cairnd, one volume, mounted with allow_other (so the nobody part of the
# tour reaches the mount); fuse_tour (tests/system/fuse_tour.c) runs the same
# calls in the mount and in a local directory and compares results, errno
# values, stat fields and which times changed; it prints one ok/not ok line
# per group. It runs twice: with default kernel caching, and remounted with
# attr_timeout=0,entry_timeout=0. Then the mount is unmounted (cairn-fuse
# must exit 0) and remounted; before and after, the tour's tree must match
# the local twin (names, types, modes, owners, links, sizes, file bytes).
# A difference is reported as "not ok" and the script goes on; it exits 1
# at the end if anything differed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fuse_lib.sh"

TOUR=$T_BUILD/tests/fuse_tour
[[ -x $TOUR ]] || fail "no $TOUR (build the tests)"

node_start n1
make_volume n1 v1 2 256M
MNT=$T_TMP/mnt
LOCAL=$T_TMP/local
mkdir -p "$LOCAL"
chmod 0755 "$T_TMP" "$LOCAL"
fuse_mount "$N1_SOCK" v1 "$MNT" allow_other
pass "cairn-fuse mounted v1 at a mount point"

# The tour twice: with the adapter's default kernel caching, and with
# attr_timeout=0,entry_timeout=0 so that more answers come from cairnd.
tour_rc=0
run_tour() {
  local name=$1 rc=0
  mkdir -m 0755 "$MNT/$name" "$LOCAL/$name"
  echo "# fuse_tour ($name)"
  timeout 600 "$TOUR" "$MNT/$name" "$LOCAL/$name" || rc=$?
  if [[ $rc != 0 ]]; then
    echo "# fuse_tour ($name) exited $rc"
    tour_rc=$rc
  fi
}
run_tour default
fuse_umount "$MNT"
fuse_mount "$N1_SOCK" v1 "$MNT" allow_other,attr_timeout=0,entry_timeout=0
run_tour nocache

# Everything the tour left, described the same way on both sides: type,
# mode, owner, links, size (not for directories: that is the file system's
# own), sha256 of file bytes; times and inode numbers aside. Walks with
# directory descriptors, since the tour makes a path of PATH_MAX - 1 bytes.
describe() {
  /usr/bin/python3 - "$1" <<'PY'
import hashlib, os, stat, sys
out = []
for root, dirs, files, rfd in os.fwalk(sys.argv[1]):
    rel = os.path.relpath(root, sys.argv[1])
    for n in dirs + files:
        st = os.stat(n, dir_fd=rfd, follow_symlinks=False)
        size = "-" if stat.S_ISDIR(st.st_mode) else st.st_size
        h = "-"
        if stat.S_ISREG(st.st_mode) and st.st_size < 64 << 20:
            fd = os.open(n, os.O_RDONLY, dir_fd=rfd)
            with os.fdopen(fd, "rb") as f:
                h = hashlib.sha256(f.read()).hexdigest()
        out.append("%r %o %d:%d %d %s %s" % (os.path.join(rel, n).encode("utf-8", "surrogateescape"),
                   st.st_mode, st.st_uid, st.st_gid, st.st_nlink, size, h))
print("\n".join(sorted(out)))
PY
}
describe "$LOCAL" >"$T_TMP/local.desc"
describe "$MNT" >"$T_TMP/mnt.desc"
bad=0
if ! cmp -s "$T_TMP/local.desc" "$T_TMP/mnt.desc"; then
  diff "$T_TMP/local.desc" "$T_TMP/mnt.desc" | head -20 || true
  echo "not ok - the tour's tree in the mount differs from the local one (< local, > mount)"
  bad=1
else
  pass "the tour's tree in the mount ($(wc -l <"$T_TMP/local.desc") entries) matches the local one"
fi

fuse_umount "$MNT"
pass "fusermount3 -u unmounts and cairn-fuse exits 0"
fuse_mount "$N1_SOCK" v1 "$MNT" allow_other
describe "$MNT" >"$T_TMP/mnt2.desc"
if ! cmp -s "$T_TMP/local.desc" "$T_TMP/mnt2.desc"; then
  diff "$T_TMP/local.desc" "$T_TMP/mnt2.desc" | head -20 || true
  echo "not ok - after a remount the tour's tree differs from the local one (< local, > mount)"
  bad=1
else
  pass "after a remount the tour's tree still matches the local one (types, modes, owners, links, sizes, bytes)"
fi
fuse_umount "$MNT"
node_kill n1 TERM
[[ $tour_rc == 0 && $bad == 0 ]] || fail "the mount differs from the local directory (not ok lines above)"
