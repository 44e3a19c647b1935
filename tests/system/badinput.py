"""badinput.py — hostile cairn.v1 requests against a real cairnd, as raw bytes
through grpcio's generic calls (no serializer: what goes on the wire is what
this file wrote), driven by test_bad_input.sh.

Every call must end with a clean gRPC status: the code the contract names
where it is clear (NOT_FOUND, INVALID_ARGUMENT, OUT_OF_RANGE,
RESOURCE_EXHAUSTED, ...), and never UNKNOWN, INTERNAL, UNAVAILABLE, a hang
(DEADLINE_EXCEEDED) or a dead daemon. Cases, in order:
  crafted   malformed protobuf: truncated bodies, overlong length prefixes,
            bad varints and wire types
  limits    oversize messages, huge and overflowing offsets and lengths
  names     unknown volumes, "." and ".." parts, NUL bytes, 255/256/300-byte
            and empty names, invalid At, unknown snapshots
  streams   empty WriteStream, a later message naming another inode,
            cancelled streams
  sessions  Session/Call streams: bad requests inside good envelopes (each
            answered with the plain call's code, and the stream goes on),
            malformed envelopes (the stream ends INVALID_ARGUMENT), random
            envelopes, abandoned streams
  garbage   seeded random and mutated bodies (bounded counts), serial and on
            8 threads
Afterwards the reference file in volume "ref" must be intact and NodeStatus
must answer. Each failed check prints a "FAIL:" line; all cases run, and the
exit status is 1 when any failed.

Usage: /usr/bin/python3 badinput.py STUBS_DIR TARGET CAIRND_PID [SEED]
  (volumes "v1", "fz", "ref" and "hist" exist, with free space)
"""
import concurrent.futures
import os
import random
import stat
import sys
import threading
import time

STUBS, TARGET, PID = sys.argv[1], sys.argv[2], int(sys.argv[3])
SEED = int(sys.argv[4]) if len(sys.argv) > 4 else 20261124
sys.path.insert(0, STUBS)

import grpc  # noqa: E402
from google.protobuf.message import DecodeError  # noqa: E402
from cairn.v1 import admin_pb2, admin_pb2_grpc  # noqa: E402
from cairn.v1 import fs_pb2, fs_pb2_grpc  # noqa: E402
from cairn.v1 import session_pb2  # noqa: E402

SC = grpc.StatusCode
ROOT = 1
T = 30  # seconds per call; a hang shows as DEADLINE_EXCEEDED, which fails
MIB = 1 << 20
U64 = (1 << 64) - 1
# A clean status: anything a handler may legitimately return.
CLEAN = {SC.OK, SC.INVALID_ARGUMENT, SC.NOT_FOUND, SC.ALREADY_EXISTS, SC.OUT_OF_RANGE,
         SC.RESOURCE_EXHAUSTED, SC.FAILED_PRECONDITION, SC.PERMISSION_DENIED, SC.UNIMPLEMENTED}
FAILS = []
COUNT = [0]
SEEN = {}  # status code -> how many calls ended with it (printed per phase)
LOCK = threading.Lock()


def P(svc, m):
    return "/cairn.v1.%s/%s" % (svc, m)


def alive():
    try:
        os.kill(PID, 0)
        return True
    except OSError:
        return False


def bad(msg):
    with LOCK:
        FAILS.append(msg)
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    if not alive():
        print("FAIL: cairnd (pid %d) is gone after: %s" % (PID, msg), file=sys.stderr)
        sys.exit(1)


def cname(c):
    return c.name if c is not None else "None"


def want(label, got, expect):
    """GOT: a status code; EXPECT: a code or a set of codes."""
    with LOCK:
        COUNT[0] += 1
        SEEN[got] = SEEN.get(got, 0) + 1
    ok = got in expect if isinstance(expect, (set, frozenset)) else got == expect
    if not ok:
        ex = "|".join(sorted(cname(c) for c in expect)) if isinstance(expect, (set, frozenset)) \
            else cname(expect)
        bad("%s: got %s, want %s" % (label, cname(got), ex))
    return ok


def check(label, cond, detail=""):
    with LOCK:
        COUNT[0] += 1
    if not cond:
        bad("%s %s" % (label, detail))


# ---- raw wire helpers ----
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tag(field, wt):
    return varint(field << 3 | wt)


def ld(field, data):
    return tag(field, 2) + varint(len(data)) + data


def vi(field, n):
    return tag(field, 0) + varint(n)


ch = grpc.insecure_channel(TARGET, options=[("grpc.enable_http_proxy", 0),
                                            ("grpc.max_receive_message_length", 64 * MIB),
                                            ("grpc.max_send_message_length", 64 * MIB)])
grpc.channel_ready_future(ch).result(timeout=T)
fs = fs_pb2_grpc.FsStub(ch)
admin = admin_pb2_grpc.AdminStub(ch)
_uu, _us, _su = {}, {}, {}


def unary(path, body, timeout=T):
    """-> (code, reply bytes or None)."""
    f = _uu.get(path)
    if f is None:
        f = _uu[path] = ch.unary_unary(path, request_serializer=None, response_deserializer=None)
    try:
        return SC.OK, f(body, timeout=timeout)
    except grpc.RpcError as e:
        return e.code(), None


def sstream(path, body, max_msgs=8):
    """Server stream: -> (code, [reply bytes]); cancels after MAX_MSGS."""
    f = _us.get(path)
    if f is None:
        f = _us[path] = ch.unary_stream(path, request_serializer=None, response_deserializer=None)
    it = f(body, timeout=T)
    msgs = []
    try:
        for m in it:
            msgs.append(m)
            if len(msgs) >= max_msgs:
                it.cancel()
                return SC.OK, msgs
        return SC.OK, msgs
    except grpc.RpcError as e:
        return e.code(), msgs


def cstream(path, bodies):
    """Client stream of raw BODIES: -> (code, reply bytes or None)."""
    f = _su.get(path)
    if f is None:
        f = _su[path] = ch.stream_unary(path, request_serializer=None, response_deserializer=None)
    try:
        return SC.OK, f(iter(bodies), timeout=T)
    except grpc.RpcError as e:
        return e.code(), None


def ser(m):
    return m.SerializeToString()


def attr_of(reply_bytes, cls=fs_pb2.AttrReply):
    r = cls()
    r.ParseFromString(reply_bytes)
    return r


def serving(label):
    try:
        admin.NodeStatus(admin_pb2.AdminEmpty(), timeout=T)
    except grpc.RpcError as e:
        bad("NodeStatus after %s: %s" % (label, e.code()))
        sys.exit(1)


# ---- setup: a reference file in "ref", working files in "v1" ----
def mknod(vol, parent, name, mode=stat.S_IFREG | 0o644):
    return fs.Mknod(fs_pb2.MknodRequest(volume=vol, parent=parent, name=name, mode=mode),
                    timeout=T).attr


REF_DATA = bytes(random.Random(SEED).getrandbits(8) for _ in range(300000))
ref = mknod(b"ref", ROOT, b"keep.bin")
fs.Write(fs_pb2.WriteRequest(volume=b"ref", ino=ref.ino, data=REF_DATA), timeout=T)
fs.Fsync(fs_pb2.VolumeRequest(volume=b"ref"), timeout=T)
F_DATA = b"hello, cairn " * 1000
f = mknod(b"v1", ROOT, b"f")
fs.Write(fs_pb2.WriteRequest(volume=b"v1", ino=f.ino, data=F_DATA), timeout=T)
d = mknod(b"v1", ROOT, b"d", stat.S_IFDIR | 0o755)
FZ_BASE = mknod(b"fz", ROOT, b"fuzz").ino
V1 = b"v1"


def f_intact(label):
    got = b"".join(fs_pb2.DataChunk.FromString(m).data for m in sstream(
        P("Fs", "ReadStream"), ser(fs_pb2.ReadRequest(volume=V1, ino=f.ino)), 16)[1])
    check("%s: file v1:/f unchanged" % label, got == F_DATA,
          "(%d bytes, want %d)" % (len(got), len(F_DATA)))


# ======================= crafted: malformed protobuf =======================
def crafted():
    valid = {
        "Lookup": ser(fs_pb2.LookupRequest(volume=V1, parent=ROOT, name=b"f",
                                           at=fs_pb2.At(time_ms=int(time.time() * 1000) + 60000))),
        "Resolve": ser(fs_pb2.ResolveRequest(volume=V1, path=b"/f")),
        "ReadDir": ser(fs_pb2.ReadDirRequest(volume=V1, dir=ROOT, limit=5, with_attrs=True,
                                             at=fs_pb2.At(time_ms=int(time.time() * 1000) + 60000))),
        "Read": ser(fs_pb2.ReadRequest(volume=V1, ino=f.ino, offset=3, length=100,
                                       at=fs_pb2.At(time_ms=int(time.time() * 1000) + 60000))),
        "GetAttr": ser(fs_pb2.GetAttrRequest(volume=V1, ino=f.ino)),
        "History": ser(fs_pb2.HistoryRequest(volume=V1, path=b"/f")),
        "StatFs": ser(fs_pb2.VolumeRequest(volume=V1)),
    }
    # Truncated bodies: every prefix. One the protobuf runtime cannot parse
    # must be INVALID_ARGUMENT; one it can is a smaller valid request.
    for m, body in valid.items():
        want("%s full body" % m, unary(P("Fs", m), body)[0], SC.OK)
        cls = {"Lookup": fs_pb2.LookupRequest, "Resolve": fs_pb2.ResolveRequest,
               "ReadDir": fs_pb2.ReadDirRequest, "Read": fs_pb2.ReadRequest,
               "GetAttr": fs_pb2.GetAttrRequest, "History": fs_pb2.HistoryRequest,
               "StatFs": fs_pb2.VolumeRequest}[m]
        n_bad = 0
        for k in range(len(body)):
            try:
                cls.FromString(body[:k])
                exp = CLEAN
            except DecodeError:
                exp = SC.INVALID_ARGUMENT
                n_bad += 1
            want("%s truncated to %d/%d bytes" % (m, k, len(body)),
                 unary(P("Fs", m), body[:k])[0], exp)
        check("%s: some prefixes are malformed" % m, n_bad > 0)
    # A length prefix claiming more than is there, at the top and nested.
    lk = P("Fs", "Lookup")
    for n in (3, 5, 100, 1 << 20, 1 << 31, 1 << 32, 1 << 63, U64):
        want("Lookup volume length %d over 2 bytes" % n,
             unary(lk, tag(1, 2) + varint(n) + b"v1")[0], SC.INVALID_ARGUMENT)
    base = ld(1, V1) + vi(2, ROOT) + ld(3, b"f")
    want("Lookup name length 200 over 1 byte",
         unary(lk, ld(1, V1) + vi(2, ROOT) + tag(3, 2) + varint(200) + b"f")[0],
         SC.INVALID_ARGUMENT)
    want("Lookup At length 16 over 4 bytes",
         unary(lk, base + tag(4, 2) + varint(16) + ld(1, b"ab"))[0], SC.INVALID_ARGUMENT)
    want("Lookup At whose inner field overruns it",
         unary(lk, base + ld(4, tag(1, 2) + varint(10) + b"ab"))[0], SC.INVALID_ARGUMENT)
    want("Lookup At whose inner varint is cut",
         unary(lk, base + ld(4, tag(2, 0) + b"\xff\xff"))[0], SC.INVALID_ARGUMENT)
    want("Lookup 11-byte varint", unary(lk, ld(1, V1) + tag(2, 0) + b"\xff" * 10 + b"\x01")[0],
         SC.INVALID_ARGUMENT)
    want("Lookup varint cut at the end", unary(lk, ld(1, V1) + tag(2, 0) + b"\xff\xff")[0],
         SC.INVALID_ARGUMENT)
    want("Lookup tag cut at the end", unary(lk, base + b"\x80")[0], SC.INVALID_ARGUMENT)
    for wt in (6, 7):
        want("Lookup wire type %d" % wt, unary(lk, base + tag(9, wt) + b"\0" * 8)[0],
             SC.INVALID_ARGUMENT)
    want("Lookup fixed64 field cut", unary(lk, base + tag(9, 1) + b"\0\0\0")[0],
         SC.INVALID_ARGUMENT)
    want("Lookup name sent as a varint", unary(lk, ld(1, V1) + vi(2, ROOT) + vi(3, 7))[0],
         SC.INVALID_ARGUMENT)
    want("Lookup At sent as a varint", unary(lk, base + vi(4, 7))[0], SC.INVALID_ARGUMENT)
    # Field number 0 is invalid protobuf; some decoders skip it as unknown.
    want("Lookup field number 0", unary(lk, base + vi(0, 1))[0], {SC.INVALID_ARGUMENT, SC.OK})
    # Unknown fields (valid protobuf) are skipped: forward compatibility.
    want("Lookup with unknown fields",
         unary(lk, base + vi(99, 5) + ld(100, b"x" * 50) + tag(101, 5) + b"\0" * 4)[0], SC.OK)
    # Repeated singular field: protobuf says the last one wins.
    code, rep = unary(lk, ld(1, b"nope") + vi(2, 999) + ld(3, b"x") + base)
    want("Lookup with every field twice (last wins)", code, SC.OK)
    if rep is not None:
        check("Lookup last-wins names f", attr_of(rep).attr.ino == f.ino)
    # Deep nesting inside an unknown field.
    nest = b""
    for _ in range(200):
        nest = ld(15, nest)
    want("Lookup with 200-deep unknown nesting", unary(lk, base + nest)[0], CLEAN)
    # The same malformed bodies on the streams and Admin.
    want("ReadStream overlong length", sstream(P("Fs", "ReadStream"),
                                               tag(1, 2) + varint(50) + b"v1")[0],
         SC.INVALID_ARGUMENT)
    want("WriteStream first message overlong",
         cstream(P("Fs", "WriteStream"), [tag(1, 2) + varint(50) + b"v1"])[0],
         SC.INVALID_ARGUMENT)
    want("WriteStream second message malformed",
         cstream(P("Fs", "WriteStream"), [ser(fs_pb2.WriteRequest(volume=V1, ino=f.ino,
                                                                   offset=len(F_DATA))),
                                          b"\x22\xff\xff\xff\x0f"])[0], SC.INVALID_ARGUMENT)
    want("ChunkAssign overlong", unary(P("Admin", "ChunkAssign"),
                                       tag(1, 2) + varint(1 << 40))[0], SC.INVALID_ARGUMENT)
    want("NodeStatus with a malformed body", unary(P("Admin", "NodeStatus"), b"\x0a\x05ab")[0],
         SC.INVALID_ARGUMENT)
    # gRPC: a method the server does not have is UNIMPLEMENTED, at once.
    want("unknown method (5 s deadline)", unary(P("Fs", "NoSuchMethod"), b"", 5)[0],
         SC.UNIMPLEMENTED)
    want("unknown service (5 s deadline)", unary("/cairn.v9.Fs/Lookup", base, 5)[0],
         SC.UNIMPLEMENTED)
    f_intact("after crafted bodies")


# ======================= limits: sizes, offsets, lengths =======================
def limits():
    wr = P("Fs", "Write")
    # > 16 MiB: gRPC's receive limit, before any decoding.
    big = ser(fs_pb2.WriteRequest(volume=V1, ino=f.ino, offset=0, data=b"\xab" * (17 * MIB)))
    want("Write of a 17 MiB message", unary(wr, big)[0], SC.RESOURCE_EXHAUSTED)
    want("16 MiB + 1 of raw bytes", unary(P("Fs", "Lookup"), b"\x0a" * (16 * MIB + 1))[0],
         SC.RESOURCE_EXHAUSTED)
    want("WriteStream with a 17 MiB second message",
         cstream(P("Fs", "WriteStream"),
                 [ser(fs_pb2.WriteRequest(volume=V1, ino=f.ino, offset=len(F_DATA))), big])[0],
         SC.RESOURCE_EXHAUSTED)
    # Exactly 16 MiB passes gRPC; unary Write is limited to 4 MiB (E2BIG).
    head = len(ser(fs_pb2.WriteRequest(volume=V1, ino=f.ino, offset=0, data=b"\1" * (16 * MIB))))
    n = 16 * MIB - (head - 16 * MIB)
    body16 = ser(fs_pb2.WriteRequest(volume=V1, ino=f.ino, offset=0, data=b"\xcd" * n))
    check("16 MiB body built", len(body16) == 16 * MIB, "(%d)" % len(body16))
    want("Write of exactly 16 MiB (over the 4 MiB unary limit)", unary(wr, body16)[0],
         {SC.INVALID_ARGUMENT, SC.OUT_OF_RANGE, SC.RESOURCE_EXHAUSTED})
    want("Write of 4 MiB + 1", unary(wr, ser(fs_pb2.WriteRequest(
        volume=V1, ino=f.ino, data=b"\xcd" * (4 * MIB + 1))))[0],
         {SC.INVALID_ARGUMENT, SC.OUT_OF_RANGE, SC.RESOURCE_EXHAUSTED})
    f_intact("after oversize writes")
    # A 16 MiB message on a stream is allowed (one piece, under the limit).
    big_ino = mknod(V1, ROOT, b"big16").ino
    body16s = ser(fs_pb2.WriteRequest(volume=V1, ino=big_ino, offset=0, data=b"\xcd" * n))
    code, rep = cstream(P("Fs", "WriteStream"), [body16s])
    want("WriteStream of one 16 MiB message", code, SC.OK)
    if rep is not None:
        w = fs_pb2.WriteReply.FromString(rep)
        check("WriteStream 16 MiB written", w.written == n and w.attr.size == n,
              "(written %d size %d, want %d)" % (w.written, w.attr.size, n))
    # Offsets beyond the largest file (2^62): EFBIG, OUT_OF_RANGE.
    for off, ln in ((1 << 63, 1), (U64, 1), (U64 - 3, 4), ((1 << 62) - 1, 2), (1 << 62, 1),
                    (1 << 63, 4096)):
        want("Write at offset %d, %d bytes" % (off, ln), unary(wr, ser(fs_pb2.WriteRequest(
            volume=V1, ino=f.ino, offset=off, data=b"z" * ln)))[0], SC.OUT_OF_RANGE)
    want("Write at offset 2^63, no data", unary(wr, ser(fs_pb2.WriteRequest(
        volume=V1, ino=f.ino, offset=1 << 63)))[0], {SC.OK, SC.OUT_OF_RANGE})
    want("WriteStream second message at offset 2^64-4096",
         cstream(P("Fs", "WriteStream"),
                 [ser(fs_pb2.WriteRequest(volume=V1, ino=f.ino, offset=0, data=F_DATA[:10])),
                  ser(fs_pb2.WriteRequest(offset=U64 - 4095, data=b"q" * 4096))])[0],
         SC.OUT_OF_RANGE)
    want("SetAttr size 2^64-1", unary(P("Fs", "SetAttr"), ser(fs_pb2.SetAttrRequest(
        volume=V1, ino=f.ino, mask=1 << 3, size=U64)))[0], SC.OUT_OF_RANGE)
    want("SetAttr size 2^62+1", unary(P("Fs", "SetAttr"), ser(fs_pb2.SetAttrRequest(
        volume=V1, ino=f.ino, mask=1 << 3, size=(1 << 62) + 1)))[0], SC.OUT_OF_RANGE)
    want("SetAttr unknown mask bits", unary(P("Fs", "SetAttr"), ser(fs_pb2.SetAttrRequest(
        volume=V1, ino=f.ino, mask=0xFFFFFFFF, size=0)))[0], SC.INVALID_ARGUMENT)
    f_intact("after overflowing offsets")
    # The largest file: bytes just below 2^62 in a sparse file.
    s_ino = mknod(V1, ROOT, b"sparse").ino
    top = (1 << 62) - 8
    code, rep = unary(wr, ser(fs_pb2.WriteRequest(volume=V1, ino=s_ino, offset=top,
                                                  data=b"TOPBYTES")))
    want("Write 8 bytes ending at 2^62", code, SC.OK)
    if rep is not None:
        check("size after the top write", fs_pb2.WriteReply.FromString(rep).attr.size == 1 << 62)
    code, rep = unary(P("Fs", "Read"), ser(fs_pb2.ReadRequest(volume=V1, ino=s_ino,
                                                              offset=top - 4, length=100)))
    want("Read across 2^62 - 8", code, SC.OK)
    if rep is not None:
        check("Read below 2^62", fs_pb2.DataChunk.FromString(rep).data == b"\0" * 4 + b"TOPBYTES")
    code, rep = unary(P("Fs", "Read"), ser(fs_pb2.ReadRequest(volume=V1, ino=s_ino,
                                                              offset=1 << 40, length=16)))
    want("Read in the hole at 2^40", code, SC.OK)
    if rep is not None:
        check("hole reads zeros", fs_pb2.DataChunk.FromString(rep).data == b"\0" * 16)
    # Read lengths and offsets past every limit.
    rd = P("Fs", "Read")
    for ln in (U64, 1 << 63, MIB + 1):
        want("Read length %d" % ln, unary(rd, ser(fs_pb2.ReadRequest(
            volume=V1, ino=f.ino, offset=0, length=ln)))[0],
             {SC.INVALID_ARGUMENT, SC.OUT_OF_RANGE})
    for off in (U64, 1 << 63, len(F_DATA)):
        code, rep = unary(rd, ser(fs_pb2.ReadRequest(volume=V1, ino=f.ino, offset=off,
                                                     length=10)))
        want("Read at offset %d" % off, code, {SC.OK, SC.OUT_OF_RANGE})
        if rep is not None:
            check("Read at offset %d is empty" % off, fs_pb2.DataChunk.FromString(rep).data == b"")
    rs = P("Fs", "ReadStream")
    code, msgs = sstream(rs, ser(fs_pb2.ReadRequest(volume=V1, ino=f.ino, offset=U64 - 1,
                                                    length=U64)))
    want("ReadStream offset 2^64-2 length 2^64-1", code, {SC.OK, SC.OUT_OF_RANGE})
    check("ReadStream past the end sends no data",
          all(fs_pb2.DataChunk.FromString(m).data == b"" for m in msgs))
    code, msgs = sstream(rs, ser(fs_pb2.ReadRequest(volume=V1, ino=f.ino, offset=5, length=U64)))
    want("ReadStream offset 5 length 2^64-1", code, SC.OK)
    check("ReadStream length 2^64-1 reads to the end",
          b"".join(fs_pb2.DataChunk.FromString(m).data for m in msgs) == F_DATA[5:])
    code, msgs = sstream(rs, ser(fs_pb2.ReadRequest(volume=V1, ino=s_ino, offset=top - 2,
                                                    length=U64)))
    want("ReadStream at 2^62 - 10, length 2^64-1", code, SC.OK)
    check("ReadStream near 2^62 reads the top bytes",
          b"".join(fs_pb2.DataChunk.FromString(m).data for m in msgs) == b"\0\0TOPBYTES")
    # Directories, missing and absurd inodes.
    want("Write to a directory", unary(wr, ser(fs_pb2.WriteRequest(
        volume=V1, ino=d.ino, data=b"x")))[0], SC.FAILED_PRECONDITION)
    want("Read a directory", unary(rd, ser(fs_pb2.ReadRequest(
        volume=V1, ino=d.ino, length=10)))[0], SC.FAILED_PRECONDITION)
    want("ReadStream a directory", sstream(rs, ser(fs_pb2.ReadRequest(volume=V1, ino=d.ino)))[0],
         SC.FAILED_PRECONDITION)
    for ino in (0, U64, 1 << 63, 123456789):
        want("GetAttr ino %d" % ino, unary(P("Fs", "GetAttr"), ser(fs_pb2.GetAttrRequest(
            volume=V1, ino=ino)))[0], {SC.NOT_FOUND, SC.INVALID_ARGUMENT})
        want("Write ino %d" % ino, unary(wr, ser(fs_pb2.WriteRequest(
            volume=V1, ino=ino, data=b"x")))[0], {SC.NOT_FOUND, SC.INVALID_ARGUMENT})
        want("Mknod under parent %d" % ino, unary(P("Fs", "Mknod"), ser(fs_pb2.MknodRequest(
            volume=V1, parent=ino, name=b"x", mode=stat.S_IFREG | 0o644)))[0],
             {SC.NOT_FOUND, SC.INVALID_ARGUMENT})
    want("Mknod under a file", unary(P("Fs", "Mknod"), ser(fs_pb2.MknodRequest(
        volume=V1, parent=f.ino, name=b"x", mode=stat.S_IFREG | 0o644)))[0],
         SC.FAILED_PRECONDITION)
    want("Mknod with an invalid type", unary(P("Fs", "Mknod"), ser(fs_pb2.MknodRequest(
        volume=V1, parent=ROOT, name=b"badtype", mode=0o170000)))[0], SC.INVALID_ARGUMENT)
    want("Mknod with bits above the type", unary(P("Fs", "Mknod"), ser(fs_pb2.MknodRequest(
        volume=V1, parent=ROOT, name=b"highbits", mode=stat.S_IFREG | 0o644 | (0xfff << 20))))[0],
         SC.INVALID_ARGUMENT)
    want("Lookup of the refused highbits", unary(P("Fs", "Lookup"), ser(fs_pb2.LookupRequest(
        volume=V1, parent=ROOT, name=b"highbits")))[0], SC.NOT_FOUND)
    want("ReadDir limit 2^32-1", unary(P("Fs", "ReadDir"), ser(fs_pb2.ReadDirRequest(
        volume=V1, dir=ROOT, limit=0xFFFFFFFF)))[0], SC.OK)
    want("ReadDir of a file", unary(P("Fs", "ReadDir"), ser(fs_pb2.ReadDirRequest(
        volume=V1, dir=f.ino)))[0], SC.FAILED_PRECONDITION)
    want("ChunkCreate size 2^64-1", unary(P("Admin", "ChunkCreate"), ser(
        admin_pb2.ChunkCreateRequest(count=1, size=U64)))[0],
         {SC.INVALID_ARGUMENT, SC.OUT_OF_RANGE})
    want("ChunkCreate count 2^32-1", unary(P("Admin", "ChunkCreate"), ser(
        admin_pb2.ChunkCreateRequest(count=0xFFFFFFFF, size=64 * MIB)))[0],
         {SC.INVALID_ARGUMENT, SC.OUT_OF_RANGE})
    want("VolumeCreate durability replicas=999", unary(P("Admin", "VolumeCreate"), ser(
        admin_pb2.VolumeCreateRequest(name=b"rep999", durability=b"replicas=999")))[0],
         SC.INVALID_ARGUMENT)
    want("VolumeCreate durability junk", unary(P("Admin", "VolumeCreate"), ser(
        admin_pb2.VolumeCreateRequest(name=b"junkdur", durability=b"replicas=2x")))[0],
         SC.INVALID_ARGUMENT)
    long_history()
    f_intact("after size and offset limits")


def long_history():
    """History with limit 0 of a file whose every version would take more
    than one 16 MiB message (93 bytes each: 185,000 of them) is refused with
    RESOURCE_EXHAUSTED, not built whole in the daemon (this client accepts
    64 MiB, so a daemon that built it would answer OK); paged, every version
    is listed. The versions: one WriteStream of 1-byte pieces."""
    n = 185000
    h = mknod(b"hist", ROOT, b"long").ino

    def pieces():
        yield fs_pb2.WriteRequest(volume=b"hist", ino=h, offset=0, data=b"h")
        for i in range(1, n):
            yield fs_pb2.WriteRequest(offset=i, data=b"h")
    w = fs.WriteStream(pieces(), timeout=300)
    check("a stream of %d 1-byte pieces" % n, w.written == n, "(%d written)" % w.written)
    req = fs_pb2.HistoryRequest(volume=b"hist", ino=h)
    want("History limit 0 of %d versions" % (n + 1), unary(P("Fs", "History"), ser(req))[0],
         SC.RESOURCE_EXHAUSTED)
    want("SnapshotList limit 0 (short)", unary(P("Fs", "SnapshotList"), ser(
        fs_pb2.SnapshotListRequest(volume=b"hist")))[0], SC.OK)
    count, req.limit = 0, 4096
    for _ in range(n // 4096 + 3):
        page = fs.History(req, timeout=T)
        count += len(page.versions)
        if not page.more:
            break
        req.after_hlc, req.after_origin = page.versions[-1].hlc, page.versions[-1].origin
    check("History of %d versions paged whole" % (n + 1), count == n + 1, "(%d listed)" % count)


# ======================= names, volumes, paths, At =======================
def names():
    lk, mk, rs, hi = P("Fs", "Lookup"), P("Fs", "Mknod"), P("Fs", "Resolve"), P("Fs", "History")
    now_ms = int(time.time() * 1000)
    # Unknown volumes: NOT_FOUND on every path.
    for vol in (b"nope", b"V1", b"v1 ", b"v", b"..", b".", b"v1/x", b"x" * 255):
        want("Lookup in volume %r" % vol[:20], unary(lk, ser(fs_pb2.LookupRequest(
            volume=vol, parent=ROOT, name=b"f")))[0], SC.NOT_FOUND)
    for m, body in (
            ("GetAttr", ser(fs_pb2.GetAttrRequest(volume=b"nope", ino=ROOT))),
            ("Read", ser(fs_pb2.ReadRequest(volume=b"nope", ino=f.ino, length=1))),
            ("Write", ser(fs_pb2.WriteRequest(volume=b"nope", ino=f.ino, data=b"x"))),
            ("Mknod", ser(fs_pb2.MknodRequest(volume=b"nope", parent=ROOT, name=b"x"))),
            ("ReadDir", ser(fs_pb2.ReadDirRequest(volume=b"nope", dir=ROOT))),
            ("Fsync", ser(fs_pb2.VolumeRequest(volume=b"nope"))),
            ("StatFs", ser(fs_pb2.VolumeRequest(volume=b"nope"))),
            ("History", ser(fs_pb2.HistoryRequest(volume=b"nope", path=b"/f"))),
            ("SnapshotCreate", ser(fs_pb2.SnapshotRequest(volume=b"nope", name=b"s"))),
            ("SnapshotList", ser(fs_pb2.VolumeRequest(volume=b"nope"))),
            ("SetXattr", ser(fs_pb2.XattrRequest(volume=b"nope", ino=ROOT, name=b"user.a")))):
        want("%s in an unknown volume" % m, unary(P("Fs", m), body)[0], SC.NOT_FOUND)
    want("ReadStream in an unknown volume", sstream(P("Fs", "ReadStream"), ser(
        fs_pb2.ReadRequest(volume=b"nope", ino=f.ino)))[0], SC.NOT_FOUND)
    want("WriteStream in an unknown volume", cstream(P("Fs", "WriteStream"), [ser(
        fs_pb2.WriteRequest(volume=b"nope", ino=f.ino, data=b"x"))])[0], SC.NOT_FOUND)
    # Paths must be absolute and canonical: no "." or ".." parts.
    for path in (b"/..", b"/../f", b"/d/../f", b"/d/..", b"/.", b"/./f", b"/d/./f", b"/d/.",
                 b"/../../../etc/passwd", b"f", b"", b"./f", b"../f", b"//..//f"):
        want("Resolve %r" % path, unary(rs, ser(fs_pb2.ResolveRequest(volume=V1, path=path)))[0],
             SC.INVALID_ARGUMENT)
        if path:  # an empty History path means "by ino"
            want("History %r" % path, unary(hi, ser(fs_pb2.HistoryRequest(
                volume=V1, path=path)))[0], SC.INVALID_ARGUMENT)
    # Names with dots that are ordinary names.
    for path in (b"/f", b"//f", b"/d/", b"/"):
        want("Resolve %r" % path, unary(rs, ser(fs_pb2.ResolveRequest(volume=V1, path=path)))[0],
             SC.OK)
    for name in (b"...", b".f", b"..f", b"f.."):
        want("Lookup of the ordinary name %r" % name, unary(lk, ser(fs_pb2.LookupRequest(
            volume=V1, parent=ROOT, name=name)))[0], SC.NOT_FOUND)
    # "." and ".." in Lookup are the directory and its parent; the root is
    # its own parent. Creating, renaming or linking to them is invalid.
    for name in (b".", b".."):
        code, rep = unary(lk, ser(fs_pb2.LookupRequest(volume=V1, parent=ROOT, name=name)))
        want("Lookup %r in the root" % name, code, SC.OK)
        if rep is not None:
            check("Lookup %r in the root is the root" % name, attr_of(rep).attr.ino == ROOT)
        code, rep = unary(lk, ser(fs_pb2.LookupRequest(volume=V1, parent=d.ino, name=name)))
        want("Lookup %r in /d" % name, code, SC.OK)
        if rep is not None:
            check("Lookup %r in /d" % name,
                  attr_of(rep).attr.ino == (d.ino if name == b"." else ROOT))
        want("Mknod %r" % name, unary(mk, ser(fs_pb2.MknodRequest(
            volume=V1, parent=d.ino, name=name, mode=stat.S_IFREG | 0o644)))[0],
             {SC.INVALID_ARGUMENT, SC.ALREADY_EXISTS})
        want("Mknod directory %r" % name, unary(mk, ser(fs_pb2.MknodRequest(
            volume=V1, parent=ROOT, name=name, mode=stat.S_IFDIR | 0o755)))[0],
             {SC.INVALID_ARGUMENT, SC.ALREADY_EXISTS})
        want("Rename f to %r" % name, unary(P("Fs", "Rename"), ser(fs_pb2.RenameRequest(
            volume=V1, parent=ROOT, name=b"f", new_parent=d.ino, new_name=name)))[0],
             {SC.INVALID_ARGUMENT, SC.FAILED_PRECONDITION})
        want("Link f as %r" % name, unary(P("Fs", "Link"), ser(fs_pb2.LinkRequest(
            volume=V1, ino=f.ino, new_parent=d.ino, new_name=name)))[0],
             {SC.INVALID_ARGUMENT, SC.ALREADY_EXISTS})
        want("Unlink %r" % name, unary(P("Fs", "Unlink"), ser(fs_pb2.EntryRequest(
            volume=V1, parent=d.ino, name=name)))[0],
             {SC.INVALID_ARGUMENT, SC.FAILED_PRECONDITION, SC.PERMISSION_DENIED})
        want("Rmdir %r" % name, unary(P("Fs", "Rmdir"), ser(fs_pb2.EntryRequest(
            volume=V1, parent=d.ino, name=name)))[0],
             {SC.INVALID_ARGUMENT, SC.FAILED_PRECONDITION})
        want("SnapshotCreate %r" % name, unary(P("Fs", "SnapshotCreate"), ser(
            fs_pb2.SnapshotRequest(volume=V1, name=name)))[0], SC.INVALID_ARGUMENT)
        want("VolumeCreate %r" % name, unary(P("Admin", "VolumeCreate"), ser(
            admin_pb2.VolumeCreateRequest(name=name)))[0], SC.INVALID_ARGUMENT)
    for name in (b"a/b", b"/", b"/etc", b"../x"):
        want("Mknod %r (has a slash)" % name, unary(mk, ser(fs_pb2.MknodRequest(
            volume=V1, parent=ROOT, name=name, mode=stat.S_IFREG | 0o644)))[0],
             SC.INVALID_ARGUMENT)
        want("Lookup %r (has a slash)" % name, unary(lk, ser(fs_pb2.LookupRequest(
            volume=V1, parent=ROOT, name=name)))[0], {SC.INVALID_ARGUMENT, SC.NOT_FOUND})
    # NUL bytes inside names, volume names, paths, targets: INVALID_ARGUMENT.
    for nm in (b"a\0b", b"\0", b"f\0", b"\0f"):
        want("Lookup name %r" % nm, unary(lk, ser(fs_pb2.LookupRequest(
            volume=V1, parent=ROOT, name=nm)))[0], SC.INVALID_ARGUMENT)
        want("Mknod name %r" % nm, unary(mk, ser(fs_pb2.MknodRequest(
            volume=V1, parent=ROOT, name=nm, mode=stat.S_IFREG | 0o644)))[0], SC.INVALID_ARGUMENT)
        want("volume name %r" % nm, unary(lk, ser(fs_pb2.LookupRequest(
            volume=nm, parent=ROOT, name=b"f")))[0], SC.INVALID_ARGUMENT)
        want("Resolve path /%r" % nm, unary(rs, ser(fs_pb2.ResolveRequest(
            volume=V1, path=b"/" + nm)))[0], SC.INVALID_ARGUMENT)
        want("VolumeCreate %r" % nm, unary(P("Admin", "VolumeCreate"), ser(
            admin_pb2.VolumeCreateRequest(name=nm)))[0], SC.INVALID_ARGUMENT)
        want("SetXattr name %r" % nm, unary(P("Fs", "SetXattr"), ser(fs_pb2.XattrRequest(
            volume=V1, ino=f.ino, name=b"user." + nm, value=b"v")))[0], SC.INVALID_ARGUMENT)
        want("snapshot name %r" % nm, unary(lk, ser(fs_pb2.LookupRequest(
            volume=V1, parent=ROOT, name=b"f", at=fs_pb2.At(snapshot=nm))))[0],
             SC.INVALID_ARGUMENT)
    want("volume b'v1\\0'", unary(lk, ser(fs_pb2.LookupRequest(
        volume=b"v1\0", parent=ROOT, name=b"f")))[0], SC.INVALID_ARGUMENT)
    want("symlink target with NUL", unary(mk, ser(fs_pb2.MknodRequest(
        volume=V1, parent=ROOT, name=b"ln", symlink_target=b"/tmp\0/x")))[0], SC.INVALID_ARGUMENT)
    want("ChunkAssign volume with NUL", unary(P("Admin", "ChunkAssign"), ser(
        admin_pb2.ChunkAssignRequest(chunk=b"0" * 32, volume=b"v1\0")))[0], SC.INVALID_ARGUMENT)
    # Name lengths: 255 is the limit.
    n255, n256, n300 = b"n" * 255, b"n" * 256, b"x" * 300
    want("Mknod 255-byte name", unary(mk, ser(fs_pb2.MknodRequest(
        volume=V1, parent=ROOT, name=n255, mode=stat.S_IFREG | 0o644)))[0], SC.OK)
    want("Lookup 255-byte name", unary(lk, ser(fs_pb2.LookupRequest(
        volume=V1, parent=ROOT, name=n255)))[0], SC.OK)
    want("Resolve /255-byte name", unary(rs, ser(fs_pb2.ResolveRequest(
        volume=V1, path=b"/" + n255)))[0], SC.OK)
    for nm in (n256, n300):
        want("Mknod %d-byte name" % len(nm), unary(mk, ser(fs_pb2.MknodRequest(
            volume=V1, parent=ROOT, name=nm, mode=stat.S_IFREG | 0o644)))[0], SC.INVALID_ARGUMENT)
        want("Lookup %d-byte name" % len(nm), unary(lk, ser(fs_pb2.LookupRequest(
            volume=V1, parent=ROOT, name=nm)))[0], SC.INVALID_ARGUMENT)
        want("Resolve /%d-byte name" % len(nm), unary(rs, ser(fs_pb2.ResolveRequest(
            volume=V1, path=b"/" + nm)))[0], SC.INVALID_ARGUMENT)
        want("Rename to a %d-byte name" % len(nm), unary(P("Fs", "Rename"), ser(
            fs_pb2.RenameRequest(volume=V1, parent=ROOT, name=b"f", new_parent=ROOT,
                                 new_name=nm)))[0], SC.INVALID_ARGUMENT)
        want("%d-byte volume name" % len(nm), unary(lk, ser(fs_pb2.LookupRequest(
            volume=nm, parent=ROOT, name=b"f")))[0], SC.INVALID_ARGUMENT)
        want("VolumeCreate %d-byte name" % len(nm), unary(P("Admin", "VolumeCreate"), ser(
            admin_pb2.VolumeCreateRequest(name=nm)))[0], SC.INVALID_ARGUMENT)
        want("ReadDir after a %d-byte name" % len(nm), unary(P("Fs", "ReadDir"), ser(
            fs_pb2.ReadDirRequest(volume=V1, dir=ROOT, after=nm)))[0], SC.INVALID_ARGUMENT)
        want("SnapshotCreate %d-byte name" % len(nm), unary(P("Fs", "SnapshotCreate"), ser(
            fs_pb2.SnapshotRequest(volume=V1, name=nm)))[0], SC.INVALID_ARGUMENT)
        want("%d-byte snapshot in At" % len(nm), unary(lk, ser(fs_pb2.LookupRequest(
            volume=V1, parent=ROOT, name=b"f", at=fs_pb2.At(snapshot=nm))))[0],
             SC.INVALID_ARGUMENT)
    long_path = b"/" + b"/".join([b"p" * 200] * 30)  # 6 KiB > PATH_MAX
    want("Resolve a 6 KiB path", unary(rs, ser(fs_pb2.ResolveRequest(
        volume=V1, path=long_path)))[0], SC.INVALID_ARGUMENT)
    want("symlink target of 6 KiB", unary(mk, ser(fs_pb2.MknodRequest(
        volume=V1, parent=ROOT, name=b"ln6k", symlink_target=long_path)))[0], SC.INVALID_ARGUMENT)
    # Empty names.
    want("Lookup empty name", unary(lk, ser(fs_pb2.LookupRequest(
        volume=V1, parent=ROOT, name=b"")))[0], SC.INVALID_ARGUMENT)
    want("Mknod empty name", unary(mk, ser(fs_pb2.MknodRequest(
        volume=V1, parent=ROOT, mode=stat.S_IFREG | 0o644)))[0], SC.INVALID_ARGUMENT)
    want("Lookup in the empty volume name", unary(lk, ser(fs_pb2.LookupRequest(
        parent=ROOT, name=b"f")))[0], SC.INVALID_ARGUMENT)
    want("Rename to an empty name", unary(P("Fs", "Rename"), ser(fs_pb2.RenameRequest(
        volume=V1, parent=ROOT, name=b"f", new_parent=ROOT)))[0], SC.INVALID_ARGUMENT)
    want("Unlink the empty name", unary(P("Fs", "Unlink"), ser(fs_pb2.EntryRequest(
        volume=V1, parent=ROOT)))[0], SC.INVALID_ARGUMENT)
    want("SnapshotCreate empty name", unary(P("Fs", "SnapshotCreate"), ser(
        fs_pb2.SnapshotRequest(volume=V1)))[0], SC.INVALID_ARGUMENT)
    want("VolumeCreate empty name", unary(P("Admin", "VolumeCreate"), ser(
        admin_pb2.VolumeCreateRequest()))[0], SC.INVALID_ARGUMENT)
    want("SetXattr empty name", unary(P("Fs", "SetXattr"), ser(fs_pb2.XattrRequest(
        volume=V1, ino=f.ino, value=b"v")))[0], SC.INVALID_ARGUMENT)
    want("empty volume request (Fsync)", unary(P("Fs", "Fsync"), b"")[0], SC.INVALID_ARGUMENT)
    # At: snapshot and time together; negative and absurd times; unknown snapshots.
    code, _ = unary(P("Fs", "SnapshotCreate"), ser(fs_pb2.SnapshotRequest(volume=V1,
                                                                          name=b"snap1")))
    want("SnapshotCreate snap1", code, SC.OK)
    both = fs_pb2.At(snapshot=b"snap1", time_ms=now_ms)
    for m, body in (
            ("Lookup", ser(fs_pb2.LookupRequest(volume=V1, parent=ROOT, name=b"f", at=both))),
            ("Resolve", ser(fs_pb2.ResolveRequest(volume=V1, path=b"/f", at=both))),
            ("GetAttr", ser(fs_pb2.GetAttrRequest(volume=V1, ino=f.ino, at=both))),
            ("ReadDir", ser(fs_pb2.ReadDirRequest(volume=V1, dir=ROOT, at=both))),
            ("Read", ser(fs_pb2.ReadRequest(volume=V1, ino=f.ino, length=10, at=both))),
            ("GetXattr", ser(fs_pb2.XattrRequest(volume=V1, ino=f.ino, name=b"user.a", at=both))),
            ("ListXattr", ser(fs_pb2.XattrRequest(volume=V1, ino=f.ino, at=both))),
            ("Readlink", ser(fs_pb2.GetAttrRequest(volume=V1, ino=f.ino, at=both)))):
        want("%s with At snapshot and time" % m, unary(P("Fs", m), body)[0], SC.INVALID_ARGUMENT)
    want("ReadStream with At snapshot and time", sstream(P("Fs", "ReadStream"), ser(
        fs_pb2.ReadRequest(volume=V1, ino=f.ino, at=both)))[0], SC.INVALID_ARGUMENT)
    for t in (-1, -(1 << 63), (1 << 63) - 1, 1 << 50):
        want("Lookup At time_ms %d" % t, unary(lk, ser(fs_pb2.LookupRequest(
            volume=V1, parent=ROOT, name=b"f", at=fs_pb2.At(time_ms=t))))[0],
             SC.INVALID_ARGUMENT)
    want("Lookup of f as of 1970", unary(lk, ser(fs_pb2.LookupRequest(
        volume=V1, parent=ROOT, name=b"f", at=fs_pb2.At(time_ms=1))))[0], SC.NOT_FOUND)
    code, rep = unary(lk, ser(fs_pb2.LookupRequest(volume=V1, parent=ROOT, name=b"f",
                                                   at=fs_pb2.At(snapshot=b"snap1"))))
    want("Lookup of f in snap1", code, SC.OK)
    for m, body in (
            ("Lookup", ser(fs_pb2.LookupRequest(volume=V1, parent=ROOT, name=b"f",
                                                at=fs_pb2.At(snapshot=b"no-such-snap")))),
            ("GetAttr", ser(fs_pb2.GetAttrRequest(volume=V1, ino=f.ino,
                                                  at=fs_pb2.At(snapshot=b"no-such-snap")))),
            ("Read", ser(fs_pb2.ReadRequest(volume=V1, ino=f.ino, length=1,
                                            at=fs_pb2.At(snapshot=b"no-such-snap")))),
            ("ReadDir", ser(fs_pb2.ReadDirRequest(volume=V1, dir=ROOT,
                                                  at=fs_pb2.At(snapshot=b"no-such-snap"))))):
        want("%s in an unknown snapshot" % m, unary(P("Fs", m), body)[0], SC.NOT_FOUND)
    want("ReadStream in an unknown snapshot", sstream(P("Fs", "ReadStream"), ser(
        fs_pb2.ReadRequest(volume=V1, ino=f.ino, at=fs_pb2.At(snapshot=b"nosnap"))))[0],
         SC.NOT_FOUND)
    want("snapshot of another volume", unary(lk, ser(fs_pb2.LookupRequest(
        volume=b"ref", parent=ROOT, name=b"keep.bin", at=fs_pb2.At(snapshot=b"snap1"))))[0],
         SC.NOT_FOUND)
    want("SnapshotCreate snap1 again", unary(P("Fs", "SnapshotCreate"), ser(
        fs_pb2.SnapshotRequest(volume=V1, name=b"snap1")))[0], SC.ALREADY_EXISTS)
    # Admin: chunk ids.
    for cid in (b"", b"zz", b"0" * 31, b"g" * 32, b"0" * 64, b"0" * 200):
        want("ChunkAssign chunk %r" % cid[:40], unary(P("Admin", "ChunkAssign"), ser(
            admin_pb2.ChunkAssignRequest(chunk=cid, volume=V1)))[0],
             {SC.INVALID_ARGUMENT, SC.NOT_FOUND})
    want("ChunkAssign an unknown chunk", unary(P("Admin", "ChunkAssign"), ser(
        admin_pb2.ChunkAssignRequest(chunk=b"0123456789abcdef0123456789abcdef", volume=V1)))[0],
         SC.NOT_FOUND)
    free_id = admin.ChunkCreate(admin_pb2.ChunkCreateRequest(count=1, size=4 * MIB),
                                timeout=T).chunks[0].id.encode()
    want("ChunkAssign to an unknown volume", unary(P("Admin", "ChunkAssign"), ser(
        admin_pb2.ChunkAssignRequest(chunk=free_id, volume=b"nope")))[0], SC.NOT_FOUND)
    want("ChunkAssign a free chunk", unary(P("Admin", "ChunkAssign"), ser(
        admin_pb2.ChunkAssignRequest(chunk=free_id, volume=V1)))[0], SC.OK)
    want("ChunkAssign it again elsewhere", unary(P("Admin", "ChunkAssign"), ser(
        admin_pb2.ChunkAssignRequest(chunk=free_id, volume=b"fz")))[0],
         {SC.ALREADY_EXISTS, SC.FAILED_PRECONDITION, SC.INVALID_ARGUMENT})
    f_intact("after bad names")


# ======================= streams =======================
def streams():
    ws = P("Fs", "WriteStream")
    want("WriteStream with zero messages", cstream(ws, [])[0], SC.INVALID_ARGUMENT)
    g = mknod(V1, ROOT, b"g").ino
    code, _ = cstream(ws, [ser(fs_pb2.WriteRequest(volume=V1, ino=g, offset=0, data=b"a" * 10)),
                           ser(fs_pb2.WriteRequest(ino=f.ino, offset=0, data=b"EVIL"))])
    want("WriteStream whose second message names another inode", code, SC.INVALID_ARGUMENT)
    code, _ = cstream(ws, [ser(fs_pb2.WriteRequest(volume=V1, ino=g, offset=0, data=b"a")),
                           ser(fs_pb2.WriteRequest(ino=g, offset=1, data=b"b")),
                           ser(fs_pb2.WriteRequest(volume=V1, ino=U64, offset=2, data=b"EVIL"))])
    want("WriteStream whose third message names inode 2^64-1", code, SC.INVALID_ARGUMENT)
    code, _ = cstream(ws, [ser(fs_pb2.WriteRequest(volume=V1, ino=g, offset=0, data=b"a")),
                           ser(fs_pb2.WriteRequest(volume=b"ref", ino=g, offset=1, data=b"EVIL"))])
    want("WriteStream whose second message names another volume", code, SC.INVALID_ARGUMENT)
    f_intact("after a stream naming another inode")
    want("WriteStream first message names a missing inode", cstream(ws, [ser(
        fs_pb2.WriteRequest(volume=V1, ino=987654321, data=b"x"))])[0], SC.NOT_FOUND)
    want("WriteStream first message names a directory", cstream(ws, [ser(
        fs_pb2.WriteRequest(volume=V1, ino=d.ino, data=b"x"))])[0],
         {SC.FAILED_PRECONDITION, SC.INVALID_ARGUMENT})
    want("WriteStream first message names no volume", cstream(ws, [ser(
        fs_pb2.WriteRequest(ino=g, data=b"x"))])[0], SC.INVALID_ARGUMENT)
    want("WriteStream of empty messages", cstream(ws, [b"", b"", b""])[0], SC.INVALID_ARGUMENT)
    code, rep = cstream(ws, [ser(fs_pb2.WriteRequest(volume=V1, ino=g))] +
                        [ser(fs_pb2.WriteRequest(offset=k)) for k in range(50)])
    want("WriteStream of 51 zero-length pieces", code, SC.OK)
    if rep is not None:
        check("zero-length pieces write nothing", fs_pb2.WriteReply.FromString(rep).written == 0)
    # Client-side cancellations mid-stream: the daemon must drop the call.
    big = mknod(V1, ROOT, b"stream-src").ino
    fs.Write(fs_pb2.WriteRequest(volume=V1, ino=big, data=b"s" * (3 * MIB)), timeout=T)
    for k in range(20):
        it = fs.ReadStream(fs_pb2.ReadRequest(volume=V1, ino=big), timeout=T)
        next(it)
        it.cancel()
    gate = threading.Event()

    def slow():
        yield fs_pb2.WriteRequest(volume=V1, ino=g, offset=0, data=b"c" * 1000)
        gate.wait(10)

    for k in range(10):
        fut = fs.WriteStream.future(slow(), timeout=T)
        time.sleep(0.05)
        fut.cancel()
    gate.set()
    for k in range(10):  # a deadline that expires in flight
        try:
            fs.ReadStream(fs_pb2.ReadRequest(volume=V1, ino=big), timeout=0.001).__next__()
        except (grpc.RpcError, StopIteration):
            pass
    serving("cancelled streams")
    f_intact("after cancelled streams")


# ======================= sessions: Session/Call streams =======================
CODE = {c.value[0]: c for c in SC}


def session(bodies, timeout=T):
    """Raw BODIES on one Session/Call stream: -> (stream code, [reply bytes])."""
    f = ch.stream_stream(P("Session", "Call"), request_serializer=None,
                         response_deserializer=None)
    msgs = []
    try:
        for m in f(iter(bodies), timeout=timeout):
            msgs.append(m)
        return SC.OK, msgs
    except grpc.RpcError as e:
        return e.code(), msgs


def creq(method, body):
    return ser(session_pb2.CallRequest(method=method, body=body))


def sessions():
    ns = creq(P("Admin", "NodeStatus"), b"")
    lk = P("Fs", "Lookup")
    cases = [  # (label, method, body)
        ("an unknown method", P("Fs", "NoSuch"), b""),
        ("a server-streaming method", P("Fs", "ReadStream"),
         ser(fs_pb2.ReadRequest(volume=V1, ino=f.ino))),
        ("a client-streaming method", P("Fs", "WriteStream"), b""),
        ("the session method itself", P("Session", "Call"), b""),
        ("an empty method name", "", b""),
        ("a truncated Lookup", lk, ser(fs_pb2.LookupRequest(volume=V1, parent=ROOT,
                                                             name=b"f"))[:-1]),
        ("a Lookup with a bad varint", lk, b"\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
        ("a Lookup in an unknown volume", lk, ser(fs_pb2.LookupRequest(
            volume=b"nope", parent=ROOT, name=b"f"))),
        ("a Lookup of a name with NUL", lk, ser(fs_pb2.LookupRequest(
            volume=V1, parent=ROOT, name=b"f\0x"))),
        ("a Lookup of ..", lk, ser(fs_pb2.LookupRequest(volume=V1, parent=ROOT, name=b".."))),
        ("a Lookup that finds", lk, ser(fs_pb2.LookupRequest(volume=V1, parent=ROOT, name=b"f"))),
        ("a Read at offset 2^64-1", P("Fs", "Read"), ser(fs_pb2.ReadRequest(
            volume=V1, ino=f.ino, offset=U64, length=10))),
    ]
    bodies = []
    for _, m, b in cases:
        bodies += [creq(m, b), ns]
    code, msgs = session(bodies)
    want("a session of bad requests", code, SC.OK)
    check("one answer per request on it", len(msgs) == len(bodies),
          "(%d, want %d)" % (len(msgs), len(bodies)))
    for i, (label, m, b) in enumerate(cases):
        if 2 * i + 1 >= len(msgs):
            break
        r = session_pb2.CallReply.FromString(msgs[2 * i])
        if m in (P("Fs", "NoSuch"), P("Fs", "ReadStream"), P("Fs", "WriteStream"),
                 P("Session", "Call"), ""):
            plain = SC.UNIMPLEMENTED
        else:
            plain, body = unary(m, b)
            if plain == SC.OK:
                check("session: %s answers the plain call's reply" % label, r.body == body)
        want("session: %s" % label, CODE.get(r.code), plain)
        check("session: %s, the session goes on" % label,
              session_pb2.CallReply.FromString(msgs[2 * i + 1]).code == 0)
    for label, env in (("a bad varint", b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
                       ("a truncated method", ld(1, b"/cairn.v1.Admin/NodeStatus")[:-3]),
                       ("an overlong body length", tag(2, 2) + varint(1 << 40) + b"x"),
                       ("a wrong wire type", vi(1, 7))):
        code, msgs = session([ns, env, ns])
        want("session envelope with %s" % label, code, SC.INVALID_ARGUMENT)
        check("session envelope with %s: the call before it answered" % label, len(msgs) == 1)
    rng = random.Random(SEED + 7)
    for k in range(150):
        env = random_body(rng) if k % 2 else mutate(rng, creq(lk, ser(fs_pb2.LookupRequest(
            volume=V1, parent=ROOT, name=b"f"))))
        code, msgs = session([env, ns])
        want("random session envelope %d" % k, code, CLEAN)
    gate = threading.Event()

    def hold():
        yield ns
        gate.wait(10)

    f_ss = ch.stream_stream(P("Session", "Call"), request_serializer=None,
                            response_deserializer=None)
    for k in range(10):  # opened, used, abandoned: the daemon must drop them
        it = f_ss(hold(), timeout=T)
        next(it)
        it.cancel()
    gate.set()
    serving("abandoned sessions")
    f_intact("after sessions")


# ======================= garbage: random and mutated bodies =======================
SAFE_FS = ["Lookup", "Resolve", "GetAttr", "SetAttr", "Mknod", "Unlink", "Rmdir", "Rename",
           "Link", "Readlink", "ReadDir", "Read", "Write", "Fsync", "StatFs", "SetXattr",
           "GetXattr", "ListXattr", "RemoveXattr", "History", "SnapshotCreate", "SnapshotList"]
FS_CODES = {SC.INVALID_ARGUMENT, SC.NOT_FOUND}
EMPTY_CODES = {SC.OK, SC.INVALID_ARGUMENT}


def random_body(rng):
    kind = rng.randrange(4)
    n = rng.choice([0, 1, 2, 3, 5, 8, 16, 64, 255, 1000, 4096])
    if kind == 0:
        return bytes(rng.getrandbits(8) for _ in range(n))
    if kind == 1:  # tag-shaped bytes: reach deeper into the decoder
        out = bytearray()
        for _ in range(rng.randrange(1, 8)):
            f = rng.choice([1, 2, 3, 4, 5, 6, 15, 16, 2047, 536870911])
            wt = rng.choice([0, 1, 2, 5, rng.randrange(8)])
            out += tag(f, wt)
            if wt == 0:
                out += varint(rng.getrandbits(rng.choice([1, 7, 32, 64])))
            elif wt == 2:
                ln = rng.randrange(0, 40)
                out += varint(rng.choice([ln, ln + 1, rng.getrandbits(32)])) + \
                    bytes(rng.getrandbits(8) for _ in range(ln))
            else:
                out += bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 4, 8])))
        return bytes(out)
    if kind == 2:
        return b"\xff" * n
    return b"\x0a" + varint(n) + bytes(rng.getrandbits(8) for _ in range(rng.randrange(n + 1)))


def mutate(rng, body):
    b = bytearray(body)
    for _ in range(rng.randrange(1, 5)):
        op = rng.randrange(4)
        i = rng.randrange(len(b) + 1)
        if op == 0 and i < len(b):
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and i < len(b):
            b[i] = rng.getrandbits(8)
        elif op == 2:
            b[i:i] = bytes([rng.getrandbits(8)])
        elif i < len(b):
            del b[i]
    return bytes(b)


def garbage_one(rng, k):
    """One random call; returns nothing, records failures."""
    r = rng.randrange(10)
    if r < 6:
        m = rng.choice(SAFE_FS)
        body = random_body(rng)
        want("garbage #%d Fs/%s (%d bytes: %s)" % (k, m, len(body), body[:24].hex()),
             unary(P("Fs", m), body)[0], FS_CODES)
    elif r == 6:
        m = rng.choice(["NodeStatus", "ChunkList", "VolumeList"])
        body = random_body(rng)
        want("garbage #%d Admin/%s (%s)" % (k, m, body[:24].hex()),
             unary(P("Admin", m), body)[0], EMPTY_CODES)
    elif r == 7:
        body = random_body(rng)
        want("garbage #%d Peer/Ping (%s)" % (k, body[:24].hex()),
             unary(P("Peer", "Ping"), body)[0], EMPTY_CODES)
    elif r == 8:
        body = random_body(rng)
        want("garbage #%d Fs/ReadStream (%s)" % (k, body[:24].hex()),
             sstream(P("Fs", "ReadStream"), body, 4)[0], FS_CODES)
    else:
        bodies = [random_body(rng) for _ in range(rng.randrange(1, 4))]
        want("garbage #%d Fs/WriteStream (%s)" % (k, b"|".join(x[:8] for x in bodies).hex()),
             cstream(P("Fs", "WriteStream"), bodies)[0], FS_CODES)


def mutated_bases(fz):
    at = fs_pb2.At(time_ms=int(time.time() * 1000))
    return [
        ("Lookup", ser(fs_pb2.LookupRequest(volume=b"fz", parent=ROOT, name=b"fuzz", at=at))),
        ("Resolve", ser(fs_pb2.ResolveRequest(volume=b"fz", path=b"/fuzz"))),
        ("GetAttr", ser(fs_pb2.GetAttrRequest(volume=b"fz", ino=fz))),
        ("ReadDir", ser(fs_pb2.ReadDirRequest(volume=b"fz", dir=ROOT, limit=3, with_attrs=True))),
        ("Read", ser(fs_pb2.ReadRequest(volume=b"fz", ino=fz, offset=1, length=100, at=at))),
        ("Write", ser(fs_pb2.WriteRequest(volume=b"fz", ino=fz, offset=7, data=b"w" * 40))),
        ("Mknod", ser(fs_pb2.MknodRequest(volume=b"fz", parent=ROOT, name=b"m",
                                          mode=stat.S_IFREG | 0o600, uid=1, gid=2))),
        ("SetAttr", ser(fs_pb2.SetAttrRequest(volume=b"fz", ino=fz, mask=0x29, mode=0o600,
                                              size=10, mtime_ns=5))),
        ("Rename", ser(fs_pb2.RenameRequest(volume=b"fz", parent=ROOT, name=b"m",
                                            new_parent=ROOT, new_name=b"m2"))),
        ("SetXattr", ser(fs_pb2.XattrRequest(volume=b"fz", ino=fz, name=b"user.k",
                                             value=b"val"))),
        ("GetXattr", ser(fs_pb2.XattrRequest(volume=b"fz", ino=fz, name=b"user.k"))),
        ("History", ser(fs_pb2.HistoryRequest(volume=b"fz", path=b"/fuzz"))),
        ("Unlink", ser(fs_pb2.EntryRequest(volume=b"fz", parent=ROOT, name=b"m2"))),
    ]


def garbage(n_serial, n_threads, n_mut):
    rng = random.Random(SEED)
    for k in range(n_serial):
        garbage_one(rng, k)
    serving("serial garbage")
    bases = mutated_bases(FZ_BASE)
    for k in range(n_mut):  # volume "fz" only: its own files may change
        m, body = bases[k % len(bases)]
        mb = mutate(rng, body)
        want("mutated #%d Fs/%s (%s)" % (k, m, mb[:32].hex()), unary(P("Fs", m), mb)[0], CLEAN)
    serving("mutated bodies")
    seeds = [rng.getrandbits(32) for _ in range(8)]

    def worker(i):
        r = random.Random(seeds[i])
        for k in range(n_threads // 8):
            garbage_one(r, 100000 * (i + 1) + k)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for fut in [ex.submit(worker, i) for i in range(8)]:
            fut.result(timeout=600)
    serving("concurrent garbage")


t0 = time.time()
for name, fn in (("crafted", crafted), ("limits", limits), ("names", names),
                 ("streams", streams), ("sessions", sessions),
                 ("garbage", lambda: garbage(500, 400, 300))):
    t = time.time()
    n0, f0 = COUNT[0], len(FAILS)
    SEEN.clear()
    fn()
    serving(name)
    codes = " ".join("%s=%d" % (c.name, n) for c, n in sorted(SEEN.items(), key=lambda x: -x[1]))
    print("# %-8s %4d checks, %d failed, %.1f s; codes: %s" % (
        name, COUNT[0] - n0, len(FAILS) - f0, time.time() - t, codes), flush=True)

# The reference volume was never named by a bad call: it must be intact.
got = b"".join(c.data for c in fs.ReadStream(fs_pb2.ReadRequest(volume=b"ref", ino=ref.ino),
                                             timeout=T))
check("ref:/keep.bin intact", got == REF_DATA, "(%d bytes, want %d)" % (len(got), len(REF_DATA)))
f_intact("at the end")
st = admin.NodeStatus(admin_pb2.AdminEmpty(), timeout=T)
check("checksum errors after bad input", st.checksum_errors == 0, "(%d)" % st.checksum_errors)
print("# %d checks in %.1f s (seed %d), %d failed" % (COUNT[0], time.time() - t0, SEED, len(FAILS)))
sys.exit(1 if FAILS else 0)
