#!/usr/bin/env bash
# test_kill9.sh — SIGKILL under write load, three times over.
#
# Each cycle runs a bounded loop of `cairnctl put v1:/f/CYCLE-N` (distinct
# random contents, 1 B..300 KiB) while a background subshell SIGKILLs cairnd
# at a random moment 1-4 s in. `put` fsyncs before it exits, so exit 0 means
# acknowledged and durable; only those contents are recorded as expected.
# After each restart:
#   - every acknowledged file of every cycle so far reads back byte-exact;
#   - the file whose put was cut off is absent, or present and either empty
#     (created, not yet written) or whole: a write of <= 1 MiB is one record
#     group, and fsops.c (4) says a crash never leaves a size that claims
#     bytes that were not written; reading it fails with nothing but ENOENT;
#   - the directory holds no name that was never put;
#   - the log shows the recovery pass ("node N open") and no line that means
#     damage (damaged bytes, undecodable records, an index ahead of its
#     chunk after a mere process kill, errors).
# At the end the index is rebuilt from the chunk files (node reindex) and
# everything is checked once more.
source "$(dirname "$0")/../system/lib.sh"

CYCLES=3
MAX_PUTS=400  # per cycle
MAX_SECS=60   # per cycle
declare -A WANT=() # path -> sha256 of acknowledged contents
declare -A CUT=()  # path -> sha256 of a put that was cut off by the kill

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


# verify: every acknowledged file intact, cut files absent/empty/whole, no
# stray names.
verify() {
  local what=$1 p got rc n=0
  for p in "${!WANT[@]}"; do
    rc=0
    timeout 60 "$CAIRNCTL" --server "unix:$N1_SOCK" cat "v1:$p" >"$T_TMP/got" 2>"$T_TMP/err" || rc=$?
    [[ $rc == 0 ]] || fail "$what: acknowledged $p cannot be read (exit $rc): $(cat "$T_TMP/err")"
    got=$(sha "$T_TMP/got")
    [[ $got == "${WANT[$p]}" ]] ||
      fail "$what: acknowledged $p is damaged: $(stat -c %s "$T_TMP/got") bytes, sha256 $got, want ${WANT[$p]}"
    n=$((n + 1))
  done
  for p in "${!CUT[@]}"; do
    rc=0
    timeout 60 "$CAIRNCTL" --server "unix:$N1_SOCK" cat "v1:$p" >"$T_TMP/got" 2>"$T_TMP/err" || rc=$?
    if [[ $rc != 0 ]]; then
      grep -q 'No such file or directory' "$T_TMP/err" ||
        fail "$what: cut-off $p: exit $rc, not 'not found': $(cat "$T_TMP/err")"
      echo "# $what: cut-off $p is absent"
    elif [[ ! -s $T_TMP/got ]]; then
      echo "# $what: cut-off $p is present and empty"
    else
      got=$(sha "$T_TMP/got")
      [[ $got == "${CUT[$p]}" ]] ||
        fail "$what: cut-off $p holds $(stat -c %s "$T_TMP/got") bytes that are neither nothing nor what was put"
      echo "# $what: cut-off $p is present and whole"
    fi
  done
  timeout 60 "$CAIRNCTL" --server "unix:$N1_SOCK" --json ls v1:/f >"$T_TMP/ls" ||
    fail "$what: ls v1:/f failed"
  /usr/bin/python3 - "$T_TMP/ls" "${!WANT[@]}" -- "${!CUT[@]}" <<'EOF' || fail "$what: listing of v1:/f"
import json, sys
args = sys.argv[2:]
sep = args.index("--")
want = {p.rsplit("/", 1)[1] for p in args[:sep]}
cut = {p.rsplit("/", 1)[1] for p in args[sep + 1:]}
names = {e["name"] for e in json.load(open(sys.argv[1]))}
assert want <= names, "acknowledged names missing: %s" % sorted(want - names)[:5]
assert names <= want | cut, "names never put: %s" % sorted(names - want - cut)[:5]
EOF
  echo "# $what: $n acknowledged files intact"
}

# check_log: the recovery pass ran each time, and nothing says damage.
check_log() {
  local opens
  opens=$(grep -c 'engine: node [0-9]* open:' "$LOG" || true)
  [[ $opens == "$1" ]] || fail "want $1 'node N open' lines in the log, got $opens"
  if grep -E 'damaged bytes|does not apply|does not verify|index is ahead|malformed|checksum|cannot open' "$LOG"; then
    fail "the log reports damage (lines above)"
  fi
  if grep -E '^[0-9T:.-]+Z E ' "$LOG"; then
    fail "the log has errors (lines above)"
  fi
}

total_acked=0
for ((cycle = 1; cycle <= CYCLES; cycle++)); do
  pid=$(node_pid n1)
  rm -f "$T_TMP/killed"
  delay_ms=$((1000 + RANDOM % 3001))
  (
    sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
    kill -KILL "$pid" 2>/dev/null || true
    touch "$T_TMP/killed"
  ) &
  killer=$!
  acked=0 cut=""
  start=$SECONDS
  for ((i = 0; i < MAX_PUTS && SECONDS - start < MAX_SECS; i++)); do
    p=/f/$cycle-$i
    head -c "$(random_size)" /dev/urandom >"$T_TMP/cur"
    rc=0
    timeout 30 "$CAIRNCTL" --server "unix:$N1_SOCK" put "v1:$p" "$T_TMP/cur" 2>"$T_TMP/put.err" || rc=$?
    if [[ $rc == 0 ]]; then
      WANT[$p]=$(sha "$T_TMP/cur")
      acked=$((acked + 1))
      continue
    fi
    # A put may fail only because the daemon was killed under it.
    for ((w = 0; w < 100; w++)); do
      [[ -e $T_TMP/killed ]] && break
      sleep 0.05
    done
    [[ -e $T_TMP/killed ]] ||
      fail "cycle $cycle: put $p failed (exit $rc) while cairnd was running: $(cat "$T_TMP/put.err")"
    CUT[$p]=$(sha "$T_TMP/cur")
    cut=$p
    break
  done
  wait "$killer"
  rc=0
  wait "$pid" 2>/dev/null || rc=$?
  [[ $rc == 137 ]] || fail "cycle $cycle: cairnd exited $rc, want 137 (SIGKILL)"
  (( acked > 0 )) || fail "cycle $cycle: no put was acknowledged before the kill"
  total_acked=$((total_acked + acked))
  echo "# cycle $cycle: killed after ${delay_ms} ms; $acked puts acknowledged, cut off: ${cut:-none}"

  node_start n1
  verify "after kill $cycle"
  check_log $((cycle + 1))
  pass "kill -9 #$cycle: $acked acknowledged puts intact after restart ($total_acked in all)"
done

torn=$(grep -c 'torn tail' "$LOG" || true)
echo "# torn tails dropped at recovery: $torn"
ctl n1 --json node status >"$T_TMP/st"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["checksum_errors"] == 0, d' "$T_TMP/st" ||
  fail "checksum errors after recovery: $(cat "$T_TMP/st")"

ctl n1 node reindex 2>/dev/null || fail "node reindex failed"
verify "after reindex"
check_log $((CYCLES + 1))
node_kill n1 TERM
grep -q 'stopped cleanly' "$LOG" || fail "no clean stop after the kills"
pass "after node reindex and a clean stop: all $total_acked acknowledged files intact"
