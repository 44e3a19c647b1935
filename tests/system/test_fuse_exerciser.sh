#!/usr/bin/env bash
# test_fuse_exerciser.sh — the seeded random file exerciser
# (tests/system/fuse_exerciser.c) through a real cairn-fuse mount against
# twin files in a local directory: 20,000 operations (CAIRN_EXERCISER_OPS to
# change), bytes compared after every read, a full compare at the end; then
# the volume is unmounted and mounted again and every file must still match
# its twin byte for byte (what cairnd holds, not what the kernel cached).
# The seed is printed; CAIRN_SEED=N reruns the same sequence.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fuse_lib.sh"

EXER=$T_BUILD/tests/fuse_exerciser
[[ -x $EXER ]] || fail "no $EXER (build the tests)"
OPS=${CAIRN_EXERCISER_OPS:-20000}

node_start n1
make_volume n1 v1 4 256M
MNT=$T_TMP/mnt
LOCAL=$T_TMP/local
mkdir -p "$LOCAL"
fuse_mount "$N1_SOCK" v1 "$MNT"
mkdir "$MNT/x"

timeout 800 "$EXER" "$MNT/x" "$LOCAL" "$OPS" || fail "the exerciser found a difference (above)"

compare_twins() {
  local what=$1 f n=0
  diff <(ls -A "$MNT/x") <(ls -A "$LOCAL") || fail "$what: the names differ"
  for f in "$LOCAL"/*; do
    [[ -e $f ]] || continue
    cmp "$f" "$MNT/x/${f##*/}" || fail "$what: ${f##*/} differs"
    n=$((n + 1))
  done
  pass "$what: $n files identical to their local twins"
}
fuse_umount "$MNT"
fuse_mount "$N1_SOCK" v1 "$MNT"
compare_twins "after unmount and mount"
fuse_umount "$MNT"
node_kill n1 TERM
node_start n1
fuse_mount "$N1_SOCK" v1 "$MNT"
compare_twins "after a cairnd restart and a new mount"
fuse_umount "$MNT"
node_kill n1 TERM
