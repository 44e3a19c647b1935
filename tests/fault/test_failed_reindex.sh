#!/usr/bin/env bash
# test_failed_reindex.sh — a `node reindex` that fails part way, on a live
# node, seen from outside (the engine side is test_iofault's
# failed_reindex_refuses_calls_until_a_reindex_succeeds).
#
# A reindex throws the old index away before it replays the chunk logs, so
# when a chunk read fails half way the node holds part of an index. It must
# not answer from it: files that exist would read as missing and writes
# would go into half an index. Instead every file operation and catalog
# change is refused with "index is inconsistent with the chunk logs",
# `node status` still answers, /healthz is 503 and cairn_index_lost is 1,
# until a reindex succeeds (everything reads back as it was, /healthz ok,
# the metric 0) or cairnd restarts (its start rebuilds the index).
#
# The failure comes from the test build's fault points (-DCAIRN_FAULT=ON):
# cairnd arms $CAIRN_FAULT_USR2 ("pread:1:sticky": every chunk read from the
# next one on fails with EIO) on a SIGUSR2 and disarms it on the next.
source "$(dirname "$0")/../system/lib.sh"
command -v curl >/dev/null || fail "curl is not installed"

export CAIRN_FAULT_USR2=pread:1:sticky
node_start n1
make_volume n1 v1 2 64M
SRC=$T_TMP/src
mkdir -p "$SRC"
for ((i = 0; i < 20; i++)); do
  head -c $((i * 1500 + 1)) /dev/urandom >"$SRC/f$i"
  ctl n1 put "v1:/d/f$i" "$SRC/f$i"
done
ctl n1 snapshot create v1 before
url=http://$N1_METRICS

healthz() { curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$url/healthz"; }
lost() { node_metric n1 cairn_index_lost; }
# signal_node MESSAGE: SIGUSR2 to n1, then waits (bounded) for MESSAGE in its log.
signal_node() {
  local i before
  before=$(grep -c "$1" "$N1_DIR/cairnd.log" || true)
  kill -USR2 "$(node_pid n1)"
  for ((i = 0; i < 100; i++)); do
    (($(grep -c "$1" "$N1_DIR/cairnd.log" || true) > before)) && return 0
    sleep 0.05
  done
  cat "$N1_DIR/cairnd.log" >&2
  fail "cairnd did not log '$1' after SIGUSR2 (a build without -DCAIRN_FAULT=ON?)"
}
# refused WHAT CMD...: the command must fail with the inconsistent-index error.
refused() {
  local what=$1 out
  shift
  if out=$(ctl n1 "$@" 2>&1); then fail "$what succeeded on a node whose reindex failed"; fi
  [[ $out == *"index is inconsistent with the chunk logs"* ]] ||
    fail "$what: expected the inconsistent-index error, got: $out"
  [[ $(printf '%s\n' "$out" | wc -l) -eq 1 ]] || fail "$what: more than one line of error: $out"
}
# all_back WHEN NAMES: every file reads back as written, v1:/d lists NAMES
# names, and the snapshot reads back too.
all_back() {
  local i
  for ((i = 0; i < 20; i++)); do
    ctl n1 cat "v1:/d/f$i" | cmp -s - "$SRC/f$i" || fail "$1: v1:/d/f$i differs"
  done
  [[ $(ctl n1 ls v1:/d | wc -l) -eq $2 ]] || fail "$1: v1:/d does not list $2 names"
  ctl n1 cat v1:/d/f19 --at before | cmp -s - "$SRC/f19" || fail "$1: the snapshot's f19 differs"
}

[[ $(healthz) == 200 && $(lost) == 0 ]] || fail "a healthy node is not ok: healthz $(healthz), index_lost $(lost)"

# 1. The reindex fails, and the node refuses instead of answering wrong.
signal_node "fault point pread:1:sticky armed"
if out=$(ctl n1 node reindex 2>&1); then fail "node reindex succeeded with every chunk read failing"; fi
signal_node "fault points disarmed" # reads work again; the index stays incomplete
pass "node reindex fails when a chunk read fails: $(printf '%s\n' "$out" | tail -n 1)"
refused "cat" cat v1:/d/f3
refused "ls" ls v1:/d
refused "put" put v1:/d/new "$SRC/f1"
refused "rm" rm v1:/d/f4
refused "history" history v1:/d/f2
refused "snapshot create" snapshot create v1 after
refused "volume create" volume create v2
ctl n1 node status >"$T_TMP/status" || fail "node status does not answer after a failed reindex"
grep -Eq '^index +INCOMPLETE: a reindex failed' "$T_TMP/status" ||
  fail "node status does not say the index is incomplete: $(cat "$T_TMP/status")"
[[ $(ctl n1 --json node status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["index_lost"])') == True ]] ||
  fail "node status --json: index_lost is not true"
[[ $(healthz) == 503 ]] || fail "/healthz is $(healthz) after a failed reindex, not 503"
[[ $(lost) == 1 ]] || fail "cairn_index_lost is $(lost) after a failed reindex, not 1"
grep -q "reindex" "$N1_DIR/cairnd.log" || fail "cairnd logged nothing about the reindex"
pass "after the failed reindex: 7 kinds of calls refused, status answers, /healthz 503, index_lost 1"

# 2. A reindex that succeeds brings everything back.
ctl n1 node reindex >/dev/null 2>&1 || fail "the second node reindex failed"
all_back "after a successful reindex" 20
[[ $(healthz) == 200 && $(lost) == 0 ]] || fail "after a successful reindex: healthz $(healthz), index_lost $(lost)"
ctl n1 node status | grep -Eq '^index +ok$' || fail "node status after a successful reindex: $(ctl n1 node status)"
ctl n1 put v1:/d/new "$SRC/f1" && ctl n1 cat v1:/d/new | cmp -s - "$SRC/f1" ||
  fail "a put after the successful reindex does not read back"
pass "a successful reindex restores every file, the snapshot, writes, /healthz and the metric"

# 3. A failed reindex, then a restart: the start rebuilds the index.
signal_node "fault point pread:1:sticky armed"
if ctl n1 node reindex >/dev/null 2>&1; then fail "the third node reindex succeeded"; fi
signal_node "fault points disarmed"
refused "cat before the restart" cat v1:/d/f0
node_term n1
[[ $NODE_RC == 0 ]] || fail "cairnd exited $NODE_RC on SIGTERM after a failed reindex"
node_start n1
all_back "after a restart" 21
[[ $(healthz) == 200 && $(lost) == 0 ]] || fail "after the restart: healthz $(healthz), index_lost $(lost)"
pass "a restart after a failed reindex rebuilds the index: every file reads back"
