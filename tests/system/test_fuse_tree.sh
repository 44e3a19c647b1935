#!/usr/bin/env bash
# test_fuse_tree.sh — a source-like tree through a real cairn-fuse mount.
#
# A generated tree (3,000 files in nested directories, 0..200 KiB each, with
# deterministic contents, executables, symlinks, a hard link and empty
# directories) is packed with tar, unpacked into the mount with tar, and
# checked: sha256 of every file through the mount against the original,
# type/mode/size/link target of every entry, `find | wc -l` and `du`. Then
# the volume is unmounted and mounted again, all of it is checked once more
# and `tar --compare` (contents, modes, owners, mtimes) is run, and
# `rm -rf` removes the tree. Last, one directory gets 100,000 empty files
# (made with mknod) and is listed twice with
# `ls -f`: 100,002 names each time, no duplicates, none missing. No time is
# asserted; ctest's timeout bounds the listing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fuse_lib.sh"

node_start n1
make_volume n1 v1 2 512M
MNT=$T_TMP/mnt
GEN=$T_TMP/gen
mkdir -p "$GEN"

/usr/bin/python3 - "$GEN" <<'PY'
import os, random, sys
root = os.path.join(sys.argv[1], "src")
words = [b"static", b"int", b"return", b"struct", b"void", b"char", b"if", b"for",
         b"while", b"const", b"unsigned", b"size_t", b"NULL", b"{", b"}", b"(", b");"]
def content(i, size):
    r = random.Random(i)
    if i % 7 == 3:                      # some binary files
        return r.randbytes(size)
    out = bytearray()
    while len(out) < size:
        line = b" ".join(r.choice(words) for _ in range(r.randrange(1, 12)))
        out += b"    " * r.randrange(0, 4) + line + b"\n"
    return bytes(out[:size])
exts = ["c", "h", "py", "txt", "md", "S", "bin"]
total = 0
for i in range(3000):
    r = random.Random(1000000 + i)
    top = "mod%02d" % (i % 12)
    sub = "sub%d" % ((i // 12) % 8)
    d = os.path.join(root, top, sub, *(["deep", "er"][: i % 3] if i % 5 == 0 else []))
    os.makedirs(d, exist_ok=True)
    p = r.random()
    size = (0 if i % 97 == 0 else r.randrange(0, 4096) if p < 0.6 else
            r.randrange(4096, 40960) if p < 0.9 else r.randrange(40960, 200 * 1024 + 1))
    if i % 211 == 0:
        size = 200 * 1024
    name = os.path.join(d, "file%04d.%s" % (i, exts[i % len(exts)]))
    with open(name, "wb") as f:
        f.write(content(i, size))
    total += size
    os.chmod(name, 0o755 if i % 13 == 0 else 0o600 if i % 17 == 0 else 0o644)
    os.utime(name, ns=(1600000000_000000000 + i * 1000003, 1600000000_000000000 + i * 999983))
for i in range(50):
    d = os.path.join(root, "mod%02d" % (i % 12))
    os.symlink("sub%d/file%04d.%s" % ((i // 12) % 8, i, exts[i % len(exts)]) if i % 5 else "../nowhere/%d" % i,
               os.path.join(d, "link%02d" % i))
for i in range(10):
    os.makedirs(os.path.join(root, "empty", "e%d" % i))
os.link(os.path.join(root, "mod01", "sub0", "file0001.h"), os.path.join(root, "hardlink.h"))
print("# generated 3000 files, %d bytes" % total)
PY
tar -C "$GEN" -czf "$T_TMP/tree.tar.gz" src || fail "tar czf of the generated tree"
echo "# tarball: $(stat -c %s "$T_TMP/tree.tar.gz") bytes"

listing() { (cd "$1" && find src \( -type d -printf '%y %m - %p\n' \) -o -printf '%y %m %s %n %p %l\n' | LC_ALL=C sort); }
sums() { (cd "$1" && find src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
listing "$GEN" >"$T_TMP/want.list"
sums "$GEN" >"$T_TMP/want.sum"
nfiles=$(wc -l <"$T_TMP/want.sum")
nall=$(find "$GEN/src" | wc -l)
bytes=$(find "$GEN/src" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
[[ $nfiles == 3001 ]] || fail "the generator made $nfiles files, want 3001"

check_tree() { # check_tree WHAT [tar-compare]
  local what=$1 n du
  listing "$MNT" >"$T_TMP/got.list"
  if ! cmp -s "$T_TMP/want.list" "$T_TMP/got.list"; then
    diff "$T_TMP/want.list" "$T_TMP/got.list" | head -20 || true
    fail "$what: types, modes, sizes or link targets differ"
  fi
  sums "$MNT" >"$T_TMP/got.sum"
  if ! cmp -s "$T_TMP/want.sum" "$T_TMP/got.sum"; then
    diff "$T_TMP/want.sum" "$T_TMP/got.sum" | head -20 || true
    fail "$what: file contents differ"
  fi
  pass "$what: sha256 of all $nfiles files, and type/mode/size/link target of all $nall entries, match the original"
  if [[ ${2:-} == tar-compare ]]; then
    tar -C "$MNT" -dzf "$T_TMP/tree.tar.gz" >"$T_TMP/tar-d.out" 2>&1 ||
      { head -20 "$T_TMP/tar-d.out"; fail "$what: tar --compare found differences"; }
    pass "$what: tar --compare finds no difference (contents, modes, owners, mtimes, links)"
  fi
  n=$(find "$MNT/src" | wc -l)
  [[ $n == "$nall" ]] || fail "$what: find | wc -l says $n, want $nall"
  du=$(du -s -B1 "$MNT/src" | awk '{ print $1 }')
  (( du >= bytes && du <= bytes + 512 * nall )) ||
    fail "$what: du says $du bytes for $bytes bytes of files"
  pass "$what: find | wc -l = $n, du = $du bytes for $bytes bytes of data"
}

fuse_mount "$N1_SOCK" v1 "$MNT"
t0=$SECONDS
tar -C "$MNT" -xzf "$T_TMP/tree.tar.gz" || fail "tar xzf into the mount failed"
pass "tar unpacked the tarball into the mount ($((SECONDS - t0)) s)"
check_tree "unpacked"
fuse_umount "$MNT"
fuse_mount "$N1_SOCK" v1 "$MNT"
check_tree "after unmount and mount" tar-compare

rm -rf "$MNT/src" || fail "rm -rf of the tree failed"
[[ -z $(ls -A "$MNT") ]] || fail "after rm -rf the root still lists: $(ls -A "$MNT" | head)"
fuse_umount "$MNT"
fuse_mount "$N1_SOCK" v1 "$MNT"
[[ -z $(ls -A "$MNT") ]] || fail "after rm -rf and a remount the root lists: $(ls -A "$MNT" | head)"
pass "rm -rf removes the whole tree (still gone after a remount)"

# One directory with 100,000 entries (mknod: one request per file, where
# open/close would take three).
BIG=$MNT/big
mkdir "$BIG"
t0=$SECONDS
/usr/bin/python3 - "$BIG" <<'PY' || fail "creating 100,000 files failed"
import os, sys
d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
for i in range(100000):
    os.mknod("e%06d" % i, 0o100644, dir_fd=d)
PY
echo "# created 100,000 files in $((SECONDS - t0)) s"
/usr/bin/python3 -c 'print("\n".join([".", ".."] + ["e%06d" % i for i in range(100000)]))' |
  LC_ALL=C sort >"$T_TMP/big.want"
for pass_no in 1 2; do
  t0=$SECONDS
  (cd "$BIG" && ls -f) >"$T_TMP/big.ls" || fail "ls -f of 100,000 entries failed (listing $pass_no)"
  echo "# listing $pass_no took $((SECONDS - t0)) s"
  n=$(wc -l <"$T_TMP/big.ls")
  [[ $n == 100002 ]] || fail "listing $pass_no: ls -f | wc -l = $n, want 100002"
  LC_ALL=C sort "$T_TMP/big.ls" | cmp -s - "$T_TMP/big.want" ||
    fail "listing $pass_no: the names are not the 100,000 created plus . and .."
  pass "listing $pass_no of a 100,000-entry directory: 100,002 names, each once"
done
n=$(find "$BIG" -type f | wc -l)
[[ $n == 100000 ]] || fail "find -type f in the big directory: $n, want 100000"
pass "find sees 100,000 regular files in the big directory"
fuse_umount "$MNT"
node_kill n1 TERM
