#!/usr/bin/env bash
# test_libcairn.sh — runs tests/system/tour.c, which calls every libcairn
# function (cairn.h) against one real cairnd and checks results and errno
# values; one "ok - ..." line per check group, and the first failure stops it.
# Then restarts the node and runs the tour a second time on the same volume
# (the tour works under /tour.PID, so runs do not collide), which also checks
# that the node serves the first tour's data after a restart. The first run
# makes its unary calls on session streams (cairn.v1.Session); the restarted
# node has "[rpc] sessions = no", like a cairnd from before sessions, so the
# second run checks that libcairn falls back to plain calls; it also has
# "[rpc] threads = 3, pollers = 2", so its calls are served by several
# threads waiting in the completion queue at once (rpc/server.c (6)).
#
# Checks of known product defects print "not ok - ..." and let the tour go on
# to its end ("not ok - tour complete, ..."); this script then goes on too,
# and fails at the end.
source "$(dirname "$0")/lib.sh"

TOUR=$T_BUILD/tests/tour
[[ -x $TOUR ]] || fail "$TOUR is not built (cmake --build \$CAIRN_BUILD --target tour)"

node_start n1
make_volume n1 v1 2 512M
DEFECTS=0

# run_tour LABEL
run_tour() {
  local rc=0 n
  timeout 600 "$TOUR" "unix:$N1_SOCK" v1 >"$T_TMP/tour.out" 2>&1 || rc=$?
  cat "$T_TMP/tour.out"
  n=$(grep -Ec '^(not )?ok - ' "$T_TMP/tour.out" || true)
  if [[ $rc != 0 ]]; then
    tail -1 "$T_TMP/tour.out" | grep -q '^not ok - tour complete' ||
      fail "tour exited $rc (see the FAIL line above)"
    DEFECTS=$((DEFECTS + 1)) # it ran to the end: go on, fail at the end
  else
    tail -1 "$T_TMP/tour.out" | grep -q '^ok - tour complete$' || fail "tour did not complete"
  fi
  (( n >= 17 )) || fail "tour printed $n group lines, want >= 17"
  if [[ $rc == 0 ]]; then pass "$1"; else echo "not ok - $1"; fi
}

run_tour "libcairn tour 1"

# the daemon must not have logged errors while being toured
! grep -E '^[0-9T:.-]+Z E ' "$N1_DIR/cairnd.log" || fail "errors in the daemon log"

# sessions_total: cairn_rpc_sessions_total on node n1's metrics page.
sessions_total() {
  curl -sS --max-time 10 "http://$N1_METRICS/metrics" |
    awk '$1 == "cairn_rpc_sessions_total" {print $2}'
}
n=$(sessions_total)
(( ${n:-0} > 0 )) || fail "the tour opened no session stream (cairn_rpc_sessions_total ${n:-missing})"
pass "the tour's unary calls went on $n session stream(s)"

node_kill n1 TERM
grep -q 'stopped cleanly' "$N1_DIR/cairnd.log" || fail "no clean stop"
printf '[rpc]\nsessions = no\nthreads = 3\npollers = 2\n' >>"$N1_DIR/cairnd.conf"
node_start n1
ctl n1 --json volume list >"$T_TMP/vols"
/usr/bin/python3 - "$T_TMP/vols" <<'PY' || fail "volumes after restart: $(cat "$T_TMP/vols")"
import json, sys
d = {v["name"]: v for v in json.load(open(sys.argv[1]))}
assert d["v1"]["chunks"] == 2, d
assert [n for n in d if n.startswith("tour-aux-")], d
PY
run_tour "libcairn tour 2 (after a restart, on the same volume, plain calls, 2 pollers)"
[[ $(sessions_total) == 0 ]] || fail "a node with sessions = no served $(sessions_total) session streams"
(( DEFECTS == 0 )) || fail "the tour reported failed checks (not ok lines above)"
