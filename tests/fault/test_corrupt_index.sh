#!/usr/bin/env bash
# test_corrupt_index.sh — the node's index (RocksDB, derived from the chunk
# files) damaged on disk while the node is stopped, seen the way an operator
# sees it: cairnd starts anyway.
#
# Files, a directory and a snapshot are stored with cairnctl. Twice, with the
# node stopped, the start of one of RocksDB's own files is overwritten (its
# CURRENT, then its MANIFEST). Each time the next start serves: the log warns
# that the index was damaged and moved aside, the data directory holds it as
# index.damaged-SECONDS (the second time beside the first copy), node status
# and the metric cairn_index_rebuilt_at_start{reason="damaged"} say so, and
# every file, the listing, the snapshot and a read as of it are what they
# were. A put after that survives another restart, which reports no rebuild.
source "$(dirname "$0")/../system/lib.sh"

node_start n1
make_volume n1 v1 1 64M
SRC=$T_TMP/src
mkdir -p "$SRC"
head -c $((2 << 20)) /dev/urandom >"$SRC/big"
echo "first" >"$SRC/a"
echo "second" >"$SRC/a2"
ctl n1 put v1:/big "$SRC/big"
ctl n1 put v1:/d/a "$SRC/a"
ctl n1 snapshot create v1 before >/dev/null
ctl n1 put v1:/d/a "$SRC/a2"

check() { # $1: what was damaged, $2: how many copies there are now
  ctl n1 cat v1:/big | cmp -s - "$SRC/big" || fail "after damage to $1: big does not read back"
  ctl n1 cat v1:/d/a | cmp -s - "$SRC/a2" || fail "after damage to $1: d/a does not read back"
  ctl n1 cat --at before v1:/d/a | cmp -s - "$SRC/a" ||
    fail "after damage to $1: d/a as of snapshot 'before' does not read back"
  [[ $(ctl n1 ls v1:/d | awk '{print $NF}') == a ]] || fail "after damage to $1: ls v1:/d is $(ctl n1 ls v1:/d)"
  ctl n1 snapshot list v1 | grep -q before || fail "after damage to $1: the snapshot is gone"
  local copies
  copies=$(find "$N1_DIR/data" -maxdepth 1 -type d -name 'index.damaged-*' | wc -l)
  [[ $copies == "$2" ]] || fail "after damage to $1: $copies index.damaged-* copies, not $2"
  grep -q "the index in .* is damaged: moved it to .*index.damaged-[0-9-]*; rebuilding it" "$N1_DIR/cairnd.log" ||
    fail "after damage to $1: the log does not say the index was moved aside"
  ctl n1 node status | grep -Eq '^index +ok \(rebuilt at start from the chunk logs: it was damaged' ||
    fail "after damage to $1: node status does not say so: $(ctl n1 node status | grep '^index')"
  [[ $(node_metric n1 'cairn_index_rebuilt_at_start{reason="damaged"}') == 1 ]] ||
    fail "after damage to $1: cairn_index_rebuilt_at_start{reason=\"damaged\"} is not 1"
}

n=0
for victim in CURRENT MANIFEST-; do
  n=$((n + 1))
  node_term n1
  [[ $NODE_RC == 0 ]] || fail "cairnd exited $NODE_RC on SIGTERM"
  f=$(ls "$N1_DIR/data/index/" | grep "^$victim" | head -n 1)
  [[ -n $f ]] || fail "the index has no $victim file"
  printf '%064d' 0 | tr 0 '\377' | dd of="$N1_DIR/data/index/$f" conv=notrunc status=none
  mv "$N1_DIR/cairnd.log" "$N1_DIR/cairnd.log.before-$victim" # the log of the next start only
  node_start n1
  check "$f" $n
  pass "damage to the index's $f: cairnd moved it aside, rebuilt it, and serves everything"
done

ctl n1 put v1:/after "$SRC/a"
node_term n1
node_start n1
ctl n1 cat v1:/after | cmp -s - "$SRC/a" || fail "a put after the rebuild does not survive a restart"
[[ $(node_metric n1 'cairn_index_rebuilt_at_start{reason="damaged"}') == 0 ]] ||
  fail "a clean start still reports the index as rebuilt for damage"
pass "a put after the rebuild survives a restart"
