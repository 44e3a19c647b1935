#!/usr/bin/env bash
# test_restart_many.sh — SIGTERM while 8 writers put files in parallel.
#
# Each of 8 background writers runs a bounded loop of `cairnctl put
# v1:/sW/N` (random contents, 1 B..300 KiB) and records what was
# acknowledged (exit 0: fsync'ed, durable). 1-3 s in, cairnd gets SIGTERM
# and must stop cleanly: in-flight calls drained, "stopped cleanly" logged,
# exit status 0, within 30 s. A put may fail only after the SIGTERM, and
# then cleanly (no crash, no hang, not EEXIST/ENOSYS/EPROTO). After a
# restart every acknowledged file reads back byte-exact, each cut-off put is
# absent, empty or whole, and no name appears that was never put. Two rounds.
source "$(dirname "$0")/../system/lib.sh"

WRITERS=8
ROUNDS=2
MAX_PUTS=300 # per writer and round
MAX_SECS=60  # per writer and round

node_start n1
make_volume n1 v1 2 512M
LOG=$N1_DIR/cairnd.log


random_size() {
  case $((RANDOM % 4)) in
  0) echo $((1 + RANDOM % 100)) ;;
  1) echo $((1 + RANDOM % 4096)) ;;
  2) echo $((4096 + (RANDOM * 2 + RANDOM % 2) % 61440)) ;;
  *) echo $((65536 + (RANDOM * 32768 + RANDOM) % (307200 - 65536 + 1))) ;;
  esac
}

# writer ROUND W: puts until a put fails (after the SIGTERM) or the bounds.
# Appends "PATH SHA" to acked.W or cut.W; writes early.W when a put fails
# before the SIGTERM was sent.
writer() {
  local round=$1 w=$2 i p rc start=$SECONDS
  local cur=$T_TMP/cur.$w
  for ((i = 0; i < MAX_PUTS && SECONDS - start < MAX_SECS; i++)); do
    p=/s$w/$round-$i
    head -c "$(random_size)" /dev/urandom >"$cur"
    rc=0
    timeout 30 "$CAIRNCTL" --server "unix:$N1_SOCK" put "v1:$p" "$cur" 2>"$T_TMP/err.$w" || rc=$?
    if [[ $rc == 0 ]]; then
      echo "$p $(sha "$cur")" >>"$T_TMP/acked.$w"
      continue
    fi
    if [[ ! -e $T_TMP/termed ]]; then
      echo "put $p exited $rc before the SIGTERM: $(cat "$T_TMP/err.$w")" >"$T_TMP/early.$w"
    fi
    # A put cut off by the stop fails cleanly: no crash, no timeout, and no
    # error that a call sent twice (File exists) or mangled would give.
    if (( rc >= 124 )) || grep -qiE 'exists|not implemented|protocol' "$T_TMP/err.$w"; then
      echo "put $p cut off with exit $rc: $(cat "$T_TMP/err.$w")" >"$T_TMP/unclean.$w"
    fi
    echo "$p $(sha "$cur")" >>"$T_TMP/cut.$w"
    return 0
  done
}

verify() {
  local what=$1 p want got rc n=0
  while read -r p want; do
    rc=0
    timeout 60 "$CAIRNCTL" --server "unix:$N1_SOCK" cat "v1:$p" >"$T_TMP/got" 2>"$T_TMP/err" || rc=$?
    [[ $rc == 0 ]] || fail "$what: acknowledged $p cannot be read (exit $rc): $(cat "$T_TMP/err")"
    got=$(sha "$T_TMP/got")
    [[ $got == "$want" ]] || fail "$what: acknowledged $p is damaged ($(stat -c %s "$T_TMP/got") bytes)"
    n=$((n + 1))
  done < <(cat "$T_TMP"/acked.* 2>/dev/null)
  while read -r p want; do
    rc=0
    timeout 60 "$CAIRNCTL" --server "unix:$N1_SOCK" cat "v1:$p" >"$T_TMP/got" 2>"$T_TMP/err" || rc=$?
    if [[ $rc != 0 ]]; then
      grep -q 'No such file or directory' "$T_TMP/err" ||
        fail "$what: cut-off $p: exit $rc, not 'not found': $(cat "$T_TMP/err")"
    elif [[ -s $T_TMP/got && $(sha "$T_TMP/got") != "$want" ]]; then
      fail "$what: cut-off $p holds bytes that are neither nothing nor what was put"
    fi
  done < <(cat "$T_TMP"/cut.* 2>/dev/null)
  # no name that was never put
  local d
  for ((w = 0; w < WRITERS; w++)); do
    d=/s$w
    timeout 60 "$CAIRNCTL" --server "unix:$N1_SOCK" --json ls "v1:$d" >"$T_TMP/ls" 2>/dev/null ||
      { [[ ! -s $T_TMP/acked.$w ]] && continue; fail "$what: ls v1:$d failed"; }
    /usr/bin/python3 - "$T_TMP/ls" "$d" "$T_TMP/acked.$w" "$T_TMP/cut.$w" <<'EOF' ||
import json, os, sys
ls, d, acked, cut = sys.argv[1:]
def names(f):
    if not os.path.exists(f):
        return set()
    return {l.split()[0].rsplit("/", 1)[1] for l in open(f) if l.strip()}
want, maybe = names(acked), names(cut)
got = {e["name"] for e in json.load(open(ls))}
assert want <= got, "acknowledged names missing in %s: %s" % (d, sorted(want - got)[:5])
assert got <= want | maybe, "names never put in %s: %s" % (d, sorted(got - want - maybe)[:5])
EOF
      fail "$what: listing of v1:$d"
  done
  echo "# $what: $n acknowledged files intact"
}

for ((round = 1; round <= ROUNDS; round++)); do
  rm -f "$T_TMP/termed"
  pids=()
  for ((w = 0; w < WRITERS; w++)); do
    writer "$round" "$w" &
    pids+=($!)
  done
  delay_ms=$((1000 + RANDOM % 2001))
  sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
  touch "$T_TMP/termed"
  node_term n1
  rc=$NODE_RC
  [[ $rc != 137 ]] || fail "round $round: cairnd did not stop within 30 s of SIGTERM"
  [[ $rc == 0 ]] || fail "round $round: cairnd exited $rc after SIGTERM, want 0"
  stops=$(grep -c 'stopped cleanly' "$LOG" || true)
  [[ $stops == "$round" ]] || fail "round $round: $stops 'stopped cleanly' lines in the log, want $round"
  for p in "${pids[@]}"; do wait "$p"; done
  if compgen -G "$T_TMP/early.*" >/dev/null; then
    fail "round $round: $(cat "$T_TMP"/early.*)"
  fi
  if compgen -G "$T_TMP/unclean.*" >/dev/null; then
    fail "round $round: $(cat "$T_TMP"/unclean.*)"
  fi
  acked=$(cat "$T_TMP"/acked.* 2>/dev/null | grep -c "/$round-" || true)
  cut=$(cat "$T_TMP"/cut.* 2>/dev/null | grep -c "/$round-" || true)
  (( acked > 0 )) || fail "round $round: nothing was acknowledged before the SIGTERM"
  echo "# round $round: SIGTERM after ${delay_ms} ms; $acked puts acknowledged, $cut cut off"

  node_start n1
  verify "after stop $round"
  if grep -E '^[0-9T:.-]+Z E |damaged bytes|torn tail|index is ahead' "$LOG"; then
    fail "round $round: the log reports errors or recovery after a clean stop (lines above)"
  fi
  pass "SIGTERM #$round under $WRITERS writers: clean stop (exit 0), $acked acknowledged puts intact"
done
