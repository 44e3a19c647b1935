#!/usr/bin/env bash
# test_corrupt_chunk.sh — one byte of a file's data flipped in a chunk file on
# disk, seen the way users see it: through cairnctl and through a mount.
#
# A 3 MiB file "big" and two small ones are stored with cairnctl put
# (fsync'ed). With the node stopped, one byte in the middle of big's data is
# flipped in the chunk file (found by searching it for big's bytes). Then:
#  - `cairnctl cat v1:/big` fails with one line, "checksum mismatch", exit 1;
#    the other files read back intact; node status and the metrics count
#    the checksum error; the node keeps serving;
#  - through a mount, reading big fails with EIO (never other bytes), its
#    first MiB (before the damage) reads back intact, the small files too;
#  - after `cairnctl node reindex` (the index rebuilt from the chunk files)
#    the damage still reads as a checksum error: the rebuild keeps the
#    damaged record's data indexed (cairn_damaged_records_located_total 1)
#    instead of leaving a hole that would read as zeros nobody wrote, and
#    so does a restart after it;
#  - putting big again repairs it, also across a restart.
source "$(dirname "$0")/../system/lib.sh"
source "$(dirname "$0")/../system/fuse_lib.sh"
command -v curl >/dev/null || fail "curl is not installed"

node_start n1
make_volume n1 v1 1 64M
SRC=$T_TMP/src
mkdir -p "$SRC"
head -c $((3 << 20)) /dev/urandom >"$SRC/big"
head -c 5000 /dev/urandom >"$SRC/b"
echo "hello, cairn" >"$SRC/c"
for f in big b c; do ctl n1 put "v1:/$f" "$SRC/$f"; done

# 1. Flip one byte of big's data, 1.5 MiB in (a record in the middle of a
# write group), in the chunk file of the stopped node.
node_term n1
[[ $NODE_RC == 0 ]] || fail "cairnd exited $NODE_RC on SIGTERM"
/usr/bin/python3 - "$N1_DIR/data" "$SRC/big" <<'EOF' || fail "could not damage the chunk file"
import os, sys
data_dir, src = sys.argv[1], sys.argv[2]
want = open(src, 'rb').read()[(3 << 19) + 100:(3 << 19) + 164]
hits = []
for root, _, names in os.walk(data_dir):
    for n in names:
        p = os.path.join(root, n)
        if 'index' in p.split(os.sep):
            continue
        b = open(p, 'rb').read()
        at = b.find(want)
        if at >= 0:
            hits.append((p, at))
if len(hits) != 1:
    sys.exit("found big's bytes %d times: %s" % (len(hits), hits))
p, at = hits[0]
with open(p, 'r+b') as f:
    f.seek(at + 10)
    x = f.read(1)[0]
    f.seek(at + 10)
    f.write(bytes([x ^ 0x5a]))
    f.flush()
    os.fsync(f.fileno())
print("# flipped byte %d of %s" % (at + 10, p))
EOF
node_start n1

# 2. What cairnctl shows.
if out=$(ctl n1 cat v1:/big 2>&1 >/dev/null); then fail "cat of the damaged file succeeded"; fi
[[ $out == *"checksum mismatch"* && $(printf '%s\n' "$out" | wc -l) -eq 1 ]] ||
  fail "cat of the damaged file: want one line naming the checksum mismatch, got: $out"
for f in b c; do ctl n1 cat "v1:/$f" | cmp -s - "$SRC/$f" || fail "v1:/$f does not read back"; done
[[ $(node_metric n1 cairn_checksum_errors_total) -ge 1 ]] || fail "cairn_checksum_errors_total did not count it"
ctl n1 node status | grep -Eq 'checksum errors:? *[1-9]' ||
  fail "node status does not count the checksum error: $(ctl n1 node status)"
pass "cairnctl: the damaged file fails with '$out', the others read back"

# 3. What a mount shows.
MNT=$T_TMP/mnt
fuse_mount "$N1_SOCK" v1 "$MNT"
if err=$(cat "$MNT/big" 2>&1 >/dev/null); then fail "reading the damaged file through the mount succeeded"; fi
[[ $err == *"Input/output error"* ]] || fail "reading the damaged file through the mount: $err, not EIO"
cmp -s <(head -c $((1 << 20)) "$MNT/big") <(head -c $((1 << 20)) "$SRC/big") ||
  fail "the first MiB of the damaged file, before the damage, does not read back"
for f in b c; do cmp -s "$MNT/$f" "$SRC/$f" || fail "$f does not read back through the mount"; done
fuse_umount "$MNT"
pass "mount: the damaged file fails with EIO, its undamaged first MiB and the other files read back"

# 4. The index rebuilt from the chunk files: still an error, never zeros.
ctl n1 node reindex >/dev/null 2>&1 || fail "node reindex failed"
if out=$(ctl n1 cat v1:/big 2>&1 >/dev/null); then fail "after the reindex, cat of the damaged file succeeded"; fi
[[ $out == *"checksum mismatch"* ]] || fail "after the reindex: $out"
[[ $(node_metric n1 cairn_damaged_records_located_total) == 1 ]] ||
  fail "cairn_damaged_records_located_total is $(node_metric n1 cairn_damaged_records_located_total), not 1"
ctl n1 node status | grep -Eq '^damaged records +1 located$' ||
  fail "node status does not count the located record: $(ctl n1 node status)"
[[ $(ctl n1 ls v1:/big | awk '{print $0}') == *"$((3 << 20))"* ]] ||
  fail "after the reindex big is not 3 MiB: $(ctl n1 ls v1:/big)"
for f in b c; do ctl n1 cat "v1:/$f" | cmp -s - "$SRC/$f" || fail "v1:/$f after the reindex"; done
grep -q "is damaged: its file data (1 pieces) stays indexed" "$N1_DIR/cairnd.log" ||
  fail "the reindex did not log the damaged record"
node_term n1
[[ $NODE_RC == 0 ]] || fail "cairnd exited $NODE_RC on SIGTERM after the reindex"
node_start n1
if out=$(ctl n1 cat v1:/big 2>&1 >/dev/null); then fail "after a restart, cat of the damaged file succeeded"; fi
[[ $(node_metric n1 cairn_damaged_records_located_total) == 0 ]] ||
  fail "a restart with an index met the damaged record again"
[[ $out == *"checksum mismatch"* ]] || fail "after the reindex and a restart: $out"
pass "after node reindex the damage still reads as a checksum error (not a hole), also after a restart"

# 5. A rewrite repairs it, across a restart too.
ctl n1 put v1:/big "$SRC/big"
ctl n1 cat v1:/big | cmp -s - "$SRC/big" || fail "big does not read back after it was put again"
node_term n1
node_start n1
ctl n1 cat v1:/big | cmp -s - "$SRC/big" || fail "the repaired big does not read back after a restart"
pass "putting the file again repairs it, across a restart"
