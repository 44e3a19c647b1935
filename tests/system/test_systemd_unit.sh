#!/usr/bin/env bash
# test_systemd_unit.sh — deploy/cairnd.service and deploy/cairnd.conf.example:
#   1. `systemd-analyze verify` on a copy whose ExecStart is the built
#      cairnd says nothing about the unit (a broken copy, checked first,
#      shows the verifier really reads it here);
#   2. the unit is Type=notify with a watchdog, runs as its own user and is
#      hardened; its directories match the example configuration;
#   3. cairnd speaks the notify protocol: READY=1, WATCHDOG=1 every
#      WatchdogSec/2, STOPPING=1 (a datagram socket stands in for systemd);
#   4. `cairnd --check`: the example passes; a bad key, section or value
#      exits 2 with one line naming it, at its line;
#   5. a file with only [node] data_dir runs a working node on the defaults
#      (/run/cairn/cairnd.sock, 127.0.0.1:7420, metrics 127.0.0.1:9420),
#      skipped with a note when one of those is in use;
#   6. with two bad keys, --check names the first one at its own line.
source "$(dirname "$0")/lib.sh"

unit=$T_SRC/deploy/cairnd.service
example=$T_SRC/deploy/cairnd.conf.example
[[ -f $unit ]] || fail "no deploy/cairnd.service"
[[ -f $example ]] || fail "no deploy/cairnd.conf.example"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed"

# ---- 1. systemd-analyze verify ----
grep -Eq '^ExecStart=[^ ]*/cairnd( |$)' "$unit" || fail "ExecStart does not run cairnd"
mkdir -p "$T_TMP/units"
sed -E "s#^ExecStart=[^ ]*/cairnd#ExecStart=$CAIRND#" "$unit" > "$T_TMP/units/cairnd.service"
grep -q "^ExecStart=$CAIRND " "$T_TMP/units/cairnd.service" || fail "could not point ExecStart at $CAIRND"
sed -e 's/^NoNewPrivileges=.*/NoNewPrivileges=maybe/' -e '/^\[Service\]/a NoSuchSetting=1' \
  "$T_TMP/units/cairnd.service" > "$T_TMP/units/cairnd-broken.service"
out=$(systemd-analyze verify "$T_TMP/units/cairnd-broken.service" 2>&1 || true)
grep -q 'cairnd-broken.service:.*NoSuchSetting' <<< "$out" ||
  fail "systemd-analyze verify does not report a broken unit here: '$out'"
out=$(systemd-analyze verify "$T_TMP/units/cairnd.service" 2>&1) ||
  fail "systemd-analyze verify failed: $out"
if grep -i 'cairnd' <<< "$out"; then
  fail "systemd-analyze verify complains about the unit (above)"
fi
pass "systemd-analyze verify deploy/cairnd.service (ExecStart=$CAIRND)"

# ---- 2. what the unit must say ----
key() { sed -n "s/^$1=//p" "$unit" | tail -1; }
[[ $(key Type) == notify ]] || fail "Type=$(key Type), want notify"
wd=$(key WatchdogSec)
[[ $wd =~ ^[1-9][0-9]*(s|min)?$ ]] || fail "WatchdogSec='$wd', want a positive time"
[[ -n $(key User) && $(key User) != root ]] || fail "User='$(key User)', want a dedicated user"
for kv in NoNewPrivileges=yes PrivateTmp=yes PrivateDevices=yes ProtectHome=yes \
          ProtectKernelTunables=yes ProtectKernelModules=yes ProtectControlGroups=yes \
          RestrictSUIDSGID=yes LockPersonality=yes; do
  [[ $(key "${kv%%=*}") == "${kv#*=}" ]] || fail "unit lacks $kv (has '$(key "${kv%%=*}")')"
done
[[ $(key ProtectSystem) == strict || $(key ProtectSystem) == full ]] ||
  fail "ProtectSystem='$(key ProtectSystem)', want strict or full"
[[ -n $(key SystemCallFilter) ]] || fail "no SystemCallFilter"
[[ -n $(key RestrictAddressFamilies) ]] || fail "no RestrictAddressFamilies"
for fam in AF_UNIX AF_INET; do
  grep -qw "$fam" <<< "$(key RestrictAddressFamilies)" || fail "RestrictAddressFamilies lacks $fam"
done
grep -q '^CapabilityBoundingSet=' "$unit" || fail "no CapabilityBoundingSet"
[[ $(key Restart) == on-failure || $(key Restart) == always ]] || fail "Restart='$(key Restart)'"
# The unit's directories are the example's: socket, data, config path.
conf() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$example" | tail -1; }
sock=$(conf socket) data=$(conf data_dir)
[[ $sock == "/run/$(key RuntimeDirectory)/"* ]] ||
  fail "example socket $sock is not under RuntimeDirectory=$(key RuntimeDirectory)"
[[ $data == "/var/lib/$(key StateDirectory)" || $data == "/var/lib/$(key StateDirectory)/"* ]] ||
  fail "example data_dir $data is not under StateDirectory=$(key StateDirectory)"
if [[ $(key ProtectSystem) == strict ]]; then
  grep -qw -- "$data" <<< "$(key ReadWritePaths) /var/lib/$(key StateDirectory)" ||
    fail "data_dir $data is read-only under ProtectSystem=strict"
fi
cfgpath=$(key ExecStart | sed -n 's/.* -c \([^ ]*\).*/\1/p')
[[ -n $cfgpath ]] || fail "ExecStart passes no -c FILE"
grep -q "$cfgpath" "$T_SRC/deploy/install.sh" || fail "install.sh does not install $cfgpath"
pass "unit: Type=notify, WatchdogSec=$wd, User=$(key User), hardened; paths match the example"

# ---- 3. the notify protocol, with a socket standing in for systemd ----
nsock=$T_TMP/notify.sock
/usr/bin/python3 - "$nsock" "$T_TMP/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.5)
end = time.time() + 30  # bounded: the test stops the node well before
with open(sys.argv[2], "w") as log:
    while time.time() < end:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            continue
        log.write("%.3f %s\n" % (time.time(), msg.replace("\n", " ")))
        log.flush()
        if "STOPPING=1" in msg:
            break
PY
listener=$!
T_PIDS+=("$listener")
for ((i = 0; i < 100; i++)); do [[ -S $nsock ]] && break; sleep 0.05; done
[[ -S $nsock ]] || fail "notify listener did not start"
NOTIFY_SOCKET=$nsock WATCHDOG_USEC=1000000 node_start n1
for ((i = 0; i < 50; i++)); do
  (( $(grep -c 'WATCHDOG=1' "$T_TMP/notify.log" 2>/dev/null || true) >= 4 )) && break
  sleep 0.1
done
node_kill n1 TERM
for ((i = 0; i < 50; i++)); do kill -0 "$listener" 2>/dev/null || break; sleep 0.1; done
grep -q 'READY=1' "$T_TMP/notify.log" || { cat "$T_TMP/notify.log" >&2; fail "no READY=1"; }
n=$(grep -c 'WATCHDOG=1' "$T_TMP/notify.log" || true)
(( n >= 4 )) || { cat "$T_TMP/notify.log" >&2; fail "$n WATCHDOG=1 in 5 s with WatchdogSec=1s"; }
grep -q 'STOPPING=1' "$T_TMP/notify.log" || { cat "$T_TMP/notify.log" >&2; fail "no STOPPING=1"; }
first=$(grep -m1 'READY=1' "$T_TMP/notify.log" | cut -d' ' -f1)
gap=$(grep 'WATCHDOG=1' "$T_TMP/notify.log" | cut -d' ' -f1 |
      awk -v t="$first" '{ if ($1 - t > m) m = $1 - t; t = $1 } END { printf "%.2f", m }')
awk -v g="$gap" 'BEGIN { exit !(g < 0.9) }' || fail "a watchdog gap of ${gap}s with WatchdogSec=1s"
pass "notify protocol: READY=1, $n x WATCHDOG=1 (largest gap ${gap}s), STOPPING=1"

# ---- 4. cairnd --check ----
out=$("$CAIRND" -c "$example" --check 2>&1) || fail "cairnd --check $example: $out"
pass "cairnd --check deploy/cairnd.conf.example: $out"
# check_bad NAME EXPECT-RC KEY [WORD]: one output line naming KEY (and WORD),
# with the number of the line that holds KEY.
check_bad() {
  local f=$T_TMP/$1.conf key=$3 word=${4:-$3} rc=0 out line
  out=$("$CAIRND" -c "$f" --check 2>&1) || rc=$?
  [[ $rc == "$2" ]] || fail "$1: cairnd --check exited $rc, want $2 ($out)"
  [[ $(wc -l <<< "$out") == 1 ]] || fail "$1: more than one line: $out"
  grep -q -- "$key" <<< "$out" || fail "$1: the message does not name $key: $out"
  grep -q -- "$word" <<< "$out" || fail "$1: the message does not name $word: $out"
  line=$(sed -n "s#^cairnd: $f:\([0-9]*\): .*#\1#p" <<< "$out")
  [[ -n $line ]] || fail "$1: no FILE:LINE in: $out"
  sed -n "${line}p" "$f" | grep -q -- "$key" ||
    fail "$1: says line $line for $key, but line $line is '$(sed -n "${line}p" "$f")': $out"
  echo "#   $out"
}
{ cat "$example"; printf '[node]\nbogus_key = 1\n'; } > "$T_TMP/badkey.conf"
check_bad badkey 2 bogus_key
printf '[node]\ndata_dir = %s\n[nodes]\nname = x\n' "$T_TMP/x" > "$T_TMP/badsection.conf"
check_bad badsection 2 name nodes
printf '[node]\ndata_dir = %s\nlisten = nowhere\n' "$T_TMP/x" > "$T_TMP/badvalue.conf"
check_bad badvalue 2 listen
printf '[node]\ndata_dir = %s\nmetrics_listen = myhost:9420\n' "$T_TMP/x" > "$T_TMP/badmetrics.conf"
check_bad badmetrics 2 metrics_listen
printf '[chunks]\nsize = 1K\n' > "$T_TMP/badsize.conf"
check_bad badsize 2 size
rc=0; "$CAIRND" -c "$T_TMP/does-not-exist.conf" --check > /dev/null 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "a missing config file: exit $rc, want 2"
pass "cairnd --check: bad key, section, value and size exit 2 with one line naming them"

# ---- 5. only data_dir: the default socket and ports ----
port_free() {
  /usr/bin/python3 -c 'import socket,sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$1"
}
defsock=/run/cairn/cairnd.sock
busy=
port_free 7420 || busy+=" 127.0.0.1:7420"
port_free 9420 || busy+=" 127.0.0.1:9420"
if [[ -S $defsock ]] && "$CAIRNCTL" --server "unix:$defsock" node status >/dev/null 2>&1; then
  busy+=" $defsock"
fi
if [[ -n $busy ]]; then
  echo "# SKIP default-config node: in use:$busy"
else
  had_run_cairn=0; [[ -d /run/cairn ]] && had_run_cairn=1
  printf '[node]\ndata_dir = %s\n' "$T_TMP/def/data" > "$T_TMP/min.conf"
  "$CAIRND" -c "$T_TMP/min.conf" > "$T_TMP/def.log" 2>&1 &
  dpid=$!
  T_PIDS+=("$dpid")
  ok=0
  for ((i = 0; i < 200; i++)); do
    if "$CAIRNCTL" --server "unix:$defsock" node status > "$T_TMP/def.status" 2>&1; then
      ok=1; break
    fi
    kill -0 "$dpid" 2>/dev/null || break
    sleep 0.05
  done
  (( ok )) || { cat "$T_TMP/def.log" "$T_TMP/def.status" >&2; fail "default node did not answer on $defsock"; }
  grep -q "$T_TMP/def/data" "$T_TMP/def.status" ||
    fail "node status does not show data_dir $T_TMP/def/data: $(cat "$T_TMP/def.status")"
  "$CAIRNCTL" --server 127.0.0.1:7420 node status > /dev/null || fail "no answer on 127.0.0.1:7420"
  [[ $(curl -sS --max-time 10 http://127.0.0.1:9420/healthz) == ok ]] ||
    fail "no /healthz on 127.0.0.1:9420"
  [[ -e $T_TMP/def/data/node.id ]] || fail "no node.id in the data_dir"
  kill -TERM "$dpid"
  for ((i = 0; i < 300; i++)); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$dpid" 2>/dev/null && fail "default node did not exit after SIGTERM"
  rc=0; wait "$dpid" || rc=$?
  [[ $rc == 0 ]] || fail "default node exited $rc after SIGTERM: $(tail -3 "$T_TMP/def.log")"
  [[ ! -e $defsock ]] || fail "$defsock left behind after a clean stop"
  (( had_run_cairn )) || rmdir /run/cairn 2>/dev/null || true
  pass "a config with only data_dir serves on $defsock, 127.0.0.1:7420 and :9420"
fi
# Last, so that a failure here leaves the checks above reported: with two
# bad keys the one line names the first, at its own line.
printf '[node]\nname = a\nbogus_first = 1\ndata_dir = %s\nbogus_second = 2\n' "$T_TMP/x" \
  > "$T_TMP/twobad.conf"
check_bad twobad 2 bogus_first
pass "cairnd --check with two bad keys names the first"
pass "systemd unit and configuration"
