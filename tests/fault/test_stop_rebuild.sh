#!/usr/bin/env bash
# test_stop_rebuild.sh — SIGTERM while cairnd rebuilds a lost index at start.
#
# A node's data directory gets 100,000 files (fill_engine, through the engine
# in-process, while the node is stopped), then loses its index/. Started
# again, cairnd rebuilds the index from the chunks before it serves; a
# SIGTERM sent once the log says so must stop it (bounded: 20 s) with exit
# status 0 and "stopped during the index rebuild", before it ever serves and
# before it replayed half the records (it asks every 1,024).
# The next start must rebuild the index whole: every directory and the last
# file's bytes are there. Every wait is bounded.
source "$(dirname "$0")/../system/lib.sh"
FILL=$T_BUILD/tests/fill_engine
[[ -x $FILL ]] || fail "$FILL is missing (build target fill_engine)"
FILES=100000

node_start n1
make_volume n1 v1 1 512M >/dev/null
node_term n1
[[ $NODE_RC == 0 ]] || fail "the first stop exited $NODE_RC"
"$FILL" "$N1_DIR/data" v1 "$FILES" || fail "fill_engine failed"
rm -rf "$N1_DIR/data/index"

log=$N1_DIR/cairnd.log
: >"$log"
"$CAIRND" -c "$N1_DIR/cairnd.conf" >>"$log" 2>&1 &
pid=$!
T_PIDS+=("$pid")
for ((i = 0; i < 200; i++)); do
  grep -q 'rebuilding the index' "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "cairnd exited before its rebuild"; }
  sleep 0.05
done
grep -q 'rebuilding the index' "$log" || fail "no rebuild within 10 s: $(cat "$log")"
t0=$(date +%s%N)
kill -TERM "$pid"
rc=0
for ((i = 0; i < 200; i++)); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  kill -KILL "$pid"
  fail "cairnd did not stop within 20 s of SIGTERM during its rebuild"
fi
wait "$pid" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[[ $rc == 0 ]] || fail "cairnd stopped during its rebuild with exit status $rc, want 0: $(tail -5 "$log")"
grep -q 'stopped during the index rebuild' "$log" ||
  fail "the log does not say the rebuild was stopped: $(tail -5 "$log")"
! grep -q ' serving: ' "$log" || fail "cairnd served before its rebuild ended"
done_recs=$(sed -n 's/.*index rebuild stopped on request after \([0-9]*\) records.*/\1/p' "$log")
[[ -n $done_recs ]] || fail "no record count in the stop's log line: $(tail -5 "$log")"
((done_recs < FILES / 2)) || fail "the rebuild stopped only after $done_recs of $FILES+ records"
echo "# stopped $ms ms after SIGTERM, after $done_recs records"
pass "SIGTERM during the start's rebuild of $FILES files: exit 0, stopped before serving"

: >"$log"
node_start n1 # waits until it answers: the rebuild ran to its end
grep -q 'rebuilding the index' "$log" || fail "the next start did not rebuild the index: $(cat "$log")"
n=$(ctl n1 ls v1:/fill | wc -l)
[[ $n == $((FILES / 1000)) ]] || fail "v1:/fill lists $n directories, want $((FILES / 1000))"
last=$((FILES - 1))
n=$(ctl n1 ls "v1:/fill/d$((last / 1000))" | wc -l)
[[ $n == 1000 ]] || fail "the last directory lists $n files, want 1000"
got=$(ctl n1 cat "v1:/fill/d$((last / 1000))/f$last")
[[ $got == "last file" ]] || fail "the last file reads '$got'"
pass "the next start rebuilt the index whole: $((FILES / 1000)) directories, the last file's bytes"
node_term n1
[[ $NODE_RC == 0 ]] || fail "the last stop exited $NODE_RC"
