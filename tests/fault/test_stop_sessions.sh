#!/usr/bin/env bash
# test_stop_sessions.sh — SIGTERM while 8 threads make small calls on session
# streams (rpc/session.c, rpc/server.c (5)).
#
# tests/system/stop_hammer.c runs 8 threads, each with its own connection,
# each creating files PREFIX-T-0, PREFIX-T-1, ... in its directory /PREFIX-T
# as fast as it can, one cairn_mknod (a small unary call on the thread's
# session) each, recording every acknowledged name and the thread's first
# failure. So at the moment of the stop most sessions have a request in
# flight or are idle between two requests: the window where cairnd ends an
# idle session (ABORTED, RPC_SESSION_ENDED) while a request is on its way,
# drops that request unapplied, and the client sends it again on a fresh
# session, which fails because the server is going away. A ninth connection
# keeps an idle session open through the stop and makes one call after it.
#
# Each round (5, fresh prefix each): once at least MIN_ACKS calls were
# acknowledged, and a random 0.3-1.5 s later, cairnd gets SIGTERM and must
# exit 0 within 30 s, logging "stopped cleanly" and no "calls still running"
# (the idle session must be ended, not waited for: server.c (5)); no call may
# have failed before the SIGTERM. stop_hammer must end on its own within 20 s
# of cairnd's exit (no call hangs), exit 0 (no crash), and every thread and
# the idle connection must have ended by one failure that a stopping server
# gives: "service unavailable" (CAIRN_EUNAVAIL; a stream that gRPC cancels
# because it reached a server being shut down is reported so too, never as
# "Operation canceled"); never File exists (a request applied twice),
# Function not implemented, a protocol error, an I/O error
# (RPC_SESSION_ENDED returned instead of sent again: session.c (3)) or a
# timeout. After a restart on
# the same data directory every acknowledged name of every round so far
# exists, no name exists that was never sent, and no name exists whose call
# was told its request was not applied (RPC_SESSION_ENDED, whatever its
# retry then returned).
#
# cairnd logs how many requests reached a session after the stop had ended
# it (dropped unapplied, server.c (5)); each of them is a call that failed
# and was not applied, so per round that count must not exceed the failed
# calls whose names are absent after the restart. Most of those calls were
# told "not applied" (the window below), but not all: the stop's disconnect
# can overtake the status that tells it, and the client then sees "service
# unavailable", an outcome it does not know (a CI run saw 4 dropped and 3
# told). The count may be lower: a request still in the socket when the
# session ended is discarded by gRPC, not by cairnd.
#
# Printed, not asserted (timing-dependent): per round, how many calls met a
# session the stop had ended idle ("window hit N times"; stop_hammer.c tells
# how it is seen), and how many other failed calls (e.g. "Broken pipe") were
# applied all the same, their answer lost in the stop ("failed_present").
# A server that applies a request the stop dropped is caught in about 40%
# of rounds, hence 5 of them (~1.5-3 s each). STOP_THREADS and STOP_ROUNDS
# in the environment change 8 and 5 (for experiments).
source "$(dirname "$0")/../system/lib.sh"

HAMMER=$T_BUILD/tests/stop_hammer
[[ -x $HAMMER ]] || fail "$HAMMER is not built (cmake --build \$CAIRN_BUILD --target stop_hammer)"

THREADS=${STOP_THREADS:-8}
ROUNDS=${STOP_ROUNDS:-5}
MAX_OPS=1000000 # per thread and round: far more than fit before the stop
MAX_SECS=40     # per thread and round (the stop comes within ~17 s)
MIN_ACKS=500    # acknowledged calls, all threads, before the SIGTERM
EUNAVAIL=-4007  # CAIRN_EUNAVAIL (client/include/cairn_err.h)

node_start n1
make_volume n1 v1 2 512M
LOG=$N1_DIR/cairnd.log
windows_total=0
dropped_total=0
lost_total=0

now_ms() { echo $(($(date +%s%N) / 1000000)); }

for ((round = 1; round <= ROUNDS; round++)); do
  prefix=r$round
  out=$T_TMP/results.$round
  hlog=$T_TMP/hammer.$round.log
  "$HAMMER" "unix:$N1_SOCK" v1 "$prefix" "$THREADS" "$MAX_OPS" "$MAX_SECS" "$out" >"$hlog" 2>&1 &
  hpid=$!
  T_PIDS+=("$hpid")

  # until MIN_ACKS calls are acknowledged (at most 15 s)
  acks=0
  for ((i = 0; i < 300; i++)); do
    acks=$(grep -c '^ack ' "$out" 2>/dev/null || true)
    ((acks >= MIN_ACKS)) && break
    if ! kill -0 "$hpid" 2>/dev/null; then
      rc=0
      wait "$hpid" || rc=$?
      cat "$hlog" >&2
      fail "round $round: stop_hammer exited ($rc) before the SIGTERM"
    fi
    sleep 0.05
  done
  ((acks >= MIN_ACKS)) || fail "round $round: only $acks calls acknowledged within 15 s"
  delay_ms=$((300 + RANDOM % 1201))
  sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
  if grep -m 3 '^fail ' "$out" >&2; then
    fail "round $round: calls failed before the SIGTERM (above)"
  fi
  before=$(grep -c '^ack ' "$out" || true)

  log_lines=$(wc -l <"$LOG")
  t0=$(now_ms)
  node_term n1
  rc=$NODE_RC
  stop_ms=$(($(now_ms) - t0))
  kill -USR1 "$hpid" 2>/dev/null || true # its idle connection may call now
  [[ $rc != 137 ]] || fail "round $round: cairnd did not stop within 30 s of SIGTERM"
  [[ $rc == 0 ]] || fail "round $round: cairnd exited $rc after SIGTERM, want 0"
  stops=$(grep -c 'stopped cleanly' "$LOG" || true)
  [[ $stops == "$round" ]] || fail "round $round: $stops 'stopped cleanly' lines in the log, want $round"
  if grep 'calls still running' "$LOG" >&2; then
    fail "round $round: the stop had to cancel calls after its grace period (idle sessions held the drain?)"
  fi

  # stop_hammer ends on its own: every call is bounded by its 5 s timeout
  for ((i = 0; i < 400; i++)); do
    kill -0 "$hpid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$hpid" 2>/dev/null; then
    kill -KILL "$hpid" 2>/dev/null || true
    fail "round $round: stop_hammer still running 20 s after cairnd exited (a call hangs)"
  fi
  hammer_ms=$(($(now_ms) - t0))
  rc=0
  wait "$hpid" || rc=$?
  sed 's/^/# /' "$hlog"
  [[ $rc == 0 ]] || fail "round $round: stop_hammer exited $rc (crashed?)"
  ends=$(grep -c '^end ' "$out" || true)
  [[ $ends == $((THREADS + 1)) ]] || fail "round $round: $ends of $THREADS threads + 1 idle connection recorded their end"
  if grep ' bound$' "$out" >&2; then
    fail "round $round: threads reached their bounds before the stop (raise MAX_OPS/MAX_SECS)"
  fi
  fails=$(grep -c '^fail ' "$out" || true)
  [[ $fails == $((THREADS + 1)) ]] || fail "round $round: $fails failure lines, want one per thread and connection"
  if awk -v a="$EUNAVAIL" '$1 == "fail" && $3 != a' "$out" |
    grep . >&2; then
    fail "round $round: calls cut off by the stop failed with an error a stopping server must not give (above)"
  fi
  windows=$(grep -oE 'windows=[0-9]+' "$hlog" | cut -d= -f2)
  [[ -n $windows ]] || fail "round $round: no summary line from stop_hammer"
  windows_total=$((windows_total + windows))
  # cairnd's own count of the requests it dropped (server.c (5)): logged
  # only when there were some
  dropped=$(tail -n +"$((log_lines + 1))" "$LOG" |
    sed -nE 's/.* ([0-9]+) requests came on sessions the stop had ended.*/\1/p')
  dropped=${dropped:-0}
  dropped_total=$((dropped_total + dropped))
  acked=$(grep -c '^ack ' "$out" || true)
  echo "# round $round: SIGTERM ${delay_ms} ms after $MIN_ACKS acks ($before acked by then, $acked in all);" \
    "cairnd stopped in $stop_ms ms, stop_hammer ended ${hammer_ms} ms after the SIGTERM;" \
    "window hit $windows times, cairnd dropped $dropped requests"

  node_start n1
  for ((r = 1; r <= round; r++)); do
    rc=0
    "$HAMMER" --verify "unix:$N1_SOCK" v1 "r$r" "$THREADS" "$T_TMP/results.$r" >"$T_TMP/verify" 2>&1 ||
      rc=$?
    sed "s/^/# round $r after stop $round: /" "$T_TMP/verify"
    [[ $rc == 0 ]] || fail "round $round: names of round $r after the restart (above)"
  done
  # the last verify was this round's
  lost=$(grep -oE 'failed_present=[0-9]+' "$T_TMP/verify" | cut -d= -f2)
  lost_total=$((lost_total + lost))
  told=$(sed -nE 's/.* ([0-9]+) failed calls told .*/\1/p' "$T_TMP/verify")
  other=$(sed -nE 's/.* ([0-9]+) other failed calls.*/\1/p' "$T_TMP/verify")
  [[ -n $told && -n $other && -n $lost ]] || fail "round $round: no counts in the verify line (above)"
  ((dropped <= told + other - lost)) ||
    fail "round $round: cairnd dropped $dropped requests, but only $((told + other - lost)) failed calls are absent"
  if grep -E '^[0-9T:.-]+Z E |damaged bytes|torn tail|index is ahead' "$LOG"; then
    fail "round $round: the log reports errors or recovery after a clean stop (lines above)"
  fi
  pass "SIGTERM #$round under $THREADS session threads: clean stop, clean failures, $acked acknowledged names present"
done
echo "# the stop window (a request on a session the stop ended idle) was hit $windows_total times in $ROUNDS rounds (timing-dependent, not asserted)"
if ((windows_total == 0)); then
  echo "# note: the window was never seen: the RPC_SESSION_ENDED check above had nothing to check" \
    "(or stop_hammer's gRPC wrappers no longer see libcairn's calls)"
fi
echo "# requests cairnd dropped unapplied in the stops: $dropped_total (the rest of the window's requests gRPC discarded in flight)"
echo "# failed calls that were applied all the same (answer lost in the stop): $lost_total"
