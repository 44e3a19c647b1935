#!/usr/bin/env bash
# test_python_interop.sh — a Python client (grpcio + stubs generated from
# rpc/proto now, sharing no code with cairnd) speaks cairn.v1 over TCP and
# the unix socket: Mknod, Write, WriteStream, Read, ReadStream, ReadDir,
# VolumeList, NodeStatus and a NOT_FOUND (tests/system/interop.py). Then the
# C client reads what Python wrote, byte for byte.
# Needs Debian's python3-grpcio and python3-grpc-tools (/usr/bin/python3).
source "$(dirname "$0")/lib.sh"

py_stubs
stubs=$STUBS
for m in fs admin peer; do
  [[ -s $stubs/cairn/v1/${m}_pb2.py && -s $stubs/cairn/v1/${m}_pb2_grpc.py ]] ||
    fail "no Python stubs for $m.proto"
done
pass "Python stubs generated from rpc/proto"

node_start n1
make_volume n1 v1 2 64M

"$PY" "$T_SRC/tests/system/interop.py" "$stubs" v1 n1 "$N1_ADDR" "unix:$N1_SOCK" ||
  fail "the Python client failed (see above)"
pass "Python client over TCP $N1_ADDR and unix:$N1_SOCK"

# The C client sees exactly what the Python client wrote.
want=$((1500 * 1024 + 333 * 1024))
for tag in tcp unix; do
  ctl n1 cat "v1:/interop-$tag.bin" > "$T_TMP/$tag.out" || fail "cairnctl cat interop-$tag.bin"
  got=$(stat -c %s "$T_TMP/$tag.out")
  [[ $got == "$want" ]] || fail "cairnctl cat interop-$tag.bin: $got bytes, want $want"
done
cmp -s "$T_TMP/tcp.out" "$T_TMP/unix.out" ||
  fail "the same writes over TCP and the unix socket left different bytes"
pass "cairnctl reads the Python-written files ($want bytes each, identical)"

kill -0 "$(node_pid n1)" 2>/dev/null || fail "cairnd n1 died"
node_kill n1 TERM
grep -q "stopped cleanly" "$N1_DIR/cairnd.log" || fail "cairnd n1 did not stop cleanly"
pass "python interop"
