#!/usr/bin/env bash
# test_partition.sh — a network partition between clients and cairnd over
# TCP. cairnd runs in a network namespace this test makes, reached over a
# veth pair (10.254.N.1 here, 10.254.N.2 there); the partition is the far
# end of the link taken down: packets are dropped, nobody is told, both ends
# keep their connections (as a cable pulled or a switch gone).
#  1. libcairn over TCP (tests/system/hang_probe.c with CUT and HEAL
#     commands): while cut, getattr, a 3-piece write and read, fsync and
#     mknod each end with -ETIMEDOUT; after the link is back, the same
#     connection serves, acknowledged bytes are intact and the timed-out
#     write left whole pieces in order.
#  2. cairnctl over TCP with --timeout while cut: exit 1 and one line; over
#     the unix socket (not cut) the same node answers meanwhile; after the
#     link is back, TCP clients work again and every acknowledged file reads
#     back.
# Traffic goes only to the namespace made here. Needs root (ip netns); where
# a namespace cannot be made the test is skipped (exit 77), saying why.
source "$(dirname "$0")/../system/lib.sh"

PROBE=$T_BUILD/tests/hang_probe
[[ -x $PROBE ]] || fail "$PROBE is not built (cmake --build \$CAIRN_BUILD --target hang_probe)"
NS=cairn-part-$$
HOST_IF=cpa$$ # veth names: at most 15 characters
NS_IF=cpb$$
NET=10.254.$(($$ % 250 + 1))
if ! ip netns add "$NS" 2>"$T_TMP/err"; then
  echo "skip: cannot make a network namespace: $(cat "$T_TMP/err")"
  exit 77
fi
trap 'ip netns del "$NS" 2>/dev/null; ip link del "$HOST_IF" 2>/dev/null; t_cleanup' EXIT
in_ns() { ip netns exec "$NS" "$@"; }
ip link add "$HOST_IF" type veth peer name "$NS_IF"
ip link set "$NS_IF" netns "$NS"
ip addr add "$NET.1/30" dev "$HOST_IF"
ip link set "$HOST_IF" up
in_ns ip addr add "$NET.2/30" dev "$NS_IF"
in_ns ip link set "$NS_IF" up
in_ns ip link set lo up
CUT="ip netns exec $NS ip link set $NS_IF down"
HEAL="ip netns exec $NS ip link set $NS_IF up"

# cairnd in the namespace: a wrapper as CAIRND (ip netns exec execs, so the
# pid node_start records is cairnd's), and a config that listens there.
mkdir -p "$T_TMP/n1"
{
  echo "[node]"
  echo "name = n1"
  echo "data_dir = $T_TMP/n1/data"
  echo "socket = $T_TMP/n1/cairnd.sock"
  echo "listen = $NET.2:7420"
  echo "metrics_listen = none"
} >"$T_TMP/n1/cairnd.conf"
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NS" "$CAIRND" >"$T_TMP/cairnd-in-ns"
chmod +x "$T_TMP/cairnd-in-ns"
CAIRND=$T_TMP/cairnd-in-ns
node_start n1
make_volume n1 v1 2 64M
pid=$(node_pid n1)
TCP=$NET.2:7420
"$CAIRNCTL" --server "$TCP" --timeout 10 node status >/dev/null || fail "cairnd is not reachable at $TCP"

# ---- 1 ----
rc=0
timeout 180 "$PROBE" "$TCP" "$pid" v1 part "$CUT" "$HEAL" || rc=$?
$HEAL 2>/dev/null || true
[[ $rc == 0 ]] || fail "hang_probe across the partition: exit $rc (above)"
pass "libcairn over TCP: clean timeouts while partitioned, the same connection serves after"

# ---- 2 ----
head -c 3M /dev/urandom >"$T_TMP/f"
"$CAIRNCTL" --server "$TCP" put v1:/before "$T_TMP/f" || fail "put over TCP before the partition"
$CUT
rc=0
timeout 60 "$CAIRNCTL" --server "$TCP" --timeout 1 put v1:/during "$T_TMP/f" 2>"$T_TMP/err" || rc=$?
ctl n1 --timeout 10 node status >/dev/null || { $HEAL; fail "the unix socket did not answer while TCP was cut"; }
$HEAL
[[ $rc == 1 && $(wc -l <"$T_TMP/err") == 1 ]] ||
  fail "cairnctl put across the partition: exit $rc (124: it hung), want 1 and one line: $(cat "$T_TMP/err")"
pass "cairnctl --timeout across the partition: exit 1, one line ($(cat "$T_TMP/err")); the unix socket answered"
ok=0
for ((i = 0; i < 60; i++)); do # the link is back; TCP may take a few seconds (bounded: 60 tries)
  if "$CAIRNCTL" --server "$TCP" --timeout 5 node status >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.5
done
[[ $ok == 1 ]] || fail "cairnd not reachable over TCP after the link came back"
[[ $("$CAIRNCTL" --server "$TCP" cat v1:/before | sha -) == $(sha "$T_TMP/f") ]] ||
  fail "v1:/before differs after the partition"
"$CAIRNCTL" --server "$TCP" put v1:/after "$T_TMP/f" || fail "put over TCP after the partition"
[[ $(ctl n1 cat v1:/after | sha -) == $(sha "$T_TMP/f") ]] ||
  fail "v1:/after differs"
pass "after the partition: TCP clients work and acknowledged files read back"
