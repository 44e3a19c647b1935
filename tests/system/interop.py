"""interop.py — a cairn.v1 client written in Python with nothing but grpcio
and stubs generated from rpc/proto at test time (test_python_interop.sh).

It proves the wire contract stands on its own: a client in any language,
sharing no code with cairnd, creates, writes, reads and lists a file, and
sees the standard status codes. Run once per target (TCP and unix socket).

Usage: /usr/bin/python3 interop.py STUBS_DIR VOLUME NODE_NAME TARGET...
  TARGET: "HOST:PORT" or "unix:/path/to.sock"
Exit 0 when every check held; otherwise a "FAIL: ..." line and exit 1.
"""
import errno
import os
import stat
import sys
import time

STUBS, VOLUME, NODE_NAME = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
TARGETS = sys.argv[4:]
sys.path.insert(0, STUBS)

import grpc  # noqa: E402
from cairn.v1 import admin_pb2, admin_pb2_grpc  # noqa: E402
from cairn.v1 import fs_pb2, fs_pb2_grpc  # noqa: E402
from cairn.v1 import peer_pb2, peer_pb2_grpc  # noqa: E402
from cairn.v1 import session_pb2, session_pb2_grpc  # noqa: E402

ROOT_INO = 1
TIMEOUT = 20  # seconds per call: every wait in this file is bounded


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def pattern(seed, n):
    """N deterministic, non-repeating-looking bytes (no long zero runs)."""
    out = bytearray(n)
    x = (seed * 2654435761 + 12345) & 0xFFFFFFFF
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out[i] = (x >> 16) & 0xFF
    return bytes(out)


def put_at(buf, off, data):
    if len(buf) < off:
        buf.extend(b"\0" * (off - len(buf)))
    buf[off:off + len(data)] = data


def run(target):
    tag = "unix" if target.startswith("unix:") else "tcp"
    print("# target %s (%s)" % (target, tag))
    # No proxy: the environment's http_proxy must not route 127.0.0.1.
    ch = grpc.insecure_channel(target, options=[("grpc.enable_http_proxy", 0)])
    try:
        grpc.channel_ready_future(ch).result(timeout=TIMEOUT)
    except grpc.FutureTimeoutError:
        fail("%s: channel not ready within %d s" % (target, TIMEOUT))
    fs = fs_pb2_grpc.FsStub(ch)
    admin = admin_pb2_grpc.AdminStub(ch)
    peer = peer_pb2_grpc.PeerStub(ch)
    name = ("interop-%s.bin" % tag).encode()
    uid, gid = 4242, 4343
    t_start = time.time_ns()

    # --- Admin: the node and its volumes ---
    st = admin.NodeStatus(admin_pb2.AdminEmpty(), timeout=TIMEOUT)
    check(st.name == NODE_NAME.encode(), "NodeStatus.name %r, want %r" % (st.name, NODE_NAME))
    check(st.version != "", "NodeStatus.version is empty")
    check(st.node_id != 0, "NodeStatus.node_id is 0")
    check(st.volumes >= 1 and st.chunks >= 2,
          "NodeStatus volumes=%d chunks=%d, want >=1 and >=2" % (st.volumes, st.chunks))
    vl = admin.VolumeList(admin_pb2.AdminEmpty(), timeout=TIMEOUT)
    vols = {v.name: v for v in vl.volumes}
    check(VOLUME in vols, "VolumeList has no %r: %r" % (VOLUME, list(vols)))
    v = vols[VOLUME]
    check(v.chunks == 2, "volume chunks %d, want 2" % v.chunks)
    check(v.capacity >= 2 * (64 << 20) - 2 * 4096 and v.capacity <= 2 * (64 << 20),
          "volume capacity %d, want about 2 x 64 MiB" % v.capacity)
    check(v.durability == b"local", "volume durability %r" % v.durability)
    check(not v.read_only, "volume is read-only")
    check(len(v.id) == 32, "volume id %r is not 32 hex digits" % v.id)
    ping = peer.Ping(peer_pb2.PingRequest(from_node=99, hlc=1), timeout=TIMEOUT)
    check(ping.node_id == st.node_id, "Ping node_id %d != %d" % (ping.node_id, st.node_id))
    check(ping.hlc != 0, "Ping hlc is 0")

    # --- create ---
    r = fs.Mknod(fs_pb2.MknodRequest(volume=VOLUME, parent=ROOT_INO, name=name,
                                     mode=stat.S_IFREG | 0o640, uid=uid, gid=gid),
                 timeout=TIMEOUT)
    a = r.attr
    ino = a.ino
    check(ino > ROOT_INO, "Mknod ino %d" % ino)
    check(a.mode == stat.S_IFREG | 0o640, "Mknod mode %o" % a.mode)
    check((a.uid, a.gid) == (uid, gid), "Mknod uid/gid %d/%d" % (a.uid, a.gid))
    check(a.size == 0 and a.nlink == 1, "Mknod size %d nlink %d" % (a.size, a.nlink))
    check(t_start - 60 * 10**9 <= a.mtime_ns <= time.time_ns() + 60 * 10**9,
          "Mknod mtime_ns %d is not near now" % a.mtime_ns)
    try:
        fs.Mknod(fs_pb2.MknodRequest(volume=VOLUME, parent=ROOT_INO, name=name,
                                     mode=stat.S_IFREG | 0o640), timeout=TIMEOUT)
        fail("second Mknod of %r succeeded" % name)
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.ALREADY_EXISTS, "second Mknod: %s" % e.code())

    expect = bytearray()
    # --- unary Write ---
    d0 = pattern(1, 5000)
    w = fs.Write(fs_pb2.WriteRequest(volume=VOLUME, ino=ino, offset=0, data=d0), timeout=TIMEOUT)
    put_at(expect, 0, d0)
    check(w.written == len(d0), "Write written %d, want %d" % (w.written, len(d0)))
    check(w.attr.ino == ino and w.attr.size == len(expect),
          "Write attr ino %d size %d" % (w.attr.ino, w.attr.size))
    d1 = pattern(2, 777)  # overwrite inside the file
    w = fs.Write(fs_pb2.WriteRequest(volume=VOLUME, ino=ino, offset=1234, data=d1),
                 timeout=TIMEOUT)
    put_at(expect, 1234, d1)
    check(w.written == len(d1) and w.attr.size == len(expect),
          "overwrite: written %d size %d" % (w.written, w.attr.size))

    # --- WriteStream: several messages, own offsets, later ones with ino 0 ---
    pieces = [
        (5000, pattern(3, 300 * 1024)),   # append
        (5000 + 300 * 1024, pattern(4, 400 * 1024)),
        (100, pattern(5, 64)),            # back inside the file
        (1500 * 1024, pattern(6, 333 * 1024)),  # past the end: leaves a hole
        (1100 * 1024, pattern(7, 10)),    # inside the hole
    ]

    def stream():
        for k, (off, data) in enumerate(pieces):
            if k == 0:
                yield fs_pb2.WriteRequest(volume=VOLUME, ino=ino, offset=off, data=data)
            elif k % 2:
                yield fs_pb2.WriteRequest(offset=off, data=data)
            else:
                yield fs_pb2.WriteRequest(volume=VOLUME, ino=ino, offset=off, data=data)

    w = fs.WriteStream(stream(), timeout=TIMEOUT)
    for off, data in pieces:
        put_at(expect, off, data)
    total = sum(len(d) for _, d in pieces)
    check(w.written == total, "WriteStream written %d, want %d" % (w.written, total))
    check(w.attr.ino == ino and w.attr.size == len(expect),
          "WriteStream attr size %d, want %d" % (w.attr.size, len(expect)))
    expect = bytes(expect)
    check(len(expect) > 1 << 20, "the file should span more than one 1 MiB piece")

    # --- GetAttr / Lookup / Resolve ---
    a = fs.GetAttr(fs_pb2.GetAttrRequest(volume=VOLUME, ino=ino), timeout=TIMEOUT).attr
    check(a.ino == ino and a.size == len(expect) and a.mode == stat.S_IFREG | 0o640,
          "GetAttr ino %d size %d mode %o" % (a.ino, a.size, a.mode))
    check(a.mtime_ns >= t_start - 60 * 10**9, "GetAttr mtime_ns %d before the test" % a.mtime_ns)
    lk = fs.Lookup(fs_pb2.LookupRequest(volume=VOLUME, parent=ROOT_INO, name=name),
                   timeout=TIMEOUT).attr
    check(lk.ino == ino and lk.size == len(expect), "Lookup ino %d size %d" % (lk.ino, lk.size))
    rs = fs.Resolve(fs_pb2.ResolveRequest(volume=VOLUME, path=b"/" + name), timeout=TIMEOUT).attr
    check(rs.ino == ino, "Resolve ino %d, want %d" % (rs.ino, ino))

    # --- unary Read: head, a middle range across pieces, the tail, past EOF ---
    for off, n in [(0, 4096), (1200, 1000), (5000 + 300 * 1024 - 10, 20),
                   (1100 * 1024 - 5, 20), (len(expect) - 100, 1 << 20), (0, 1 << 20)]:
        rd = fs.Read(fs_pb2.ReadRequest(volume=VOLUME, ino=ino, offset=off, length=n),
                     timeout=TIMEOUT)
        want = expect[off:off + n]
        check(rd.offset == off, "Read offset %d, want %d" % (rd.offset, off))
        check(rd.data == want, "Read(%d, %d): %d bytes differ from what was written"
              % (off, n, len(rd.data)))
    rd = fs.Read(fs_pb2.ReadRequest(volume=VOLUME, ino=ino, offset=len(expect), length=10),
                 timeout=TIMEOUT)
    check(rd.data == b"", "Read at EOF returned %d bytes" % len(rd.data))

    # --- ReadStream: whole file (length 0 = to the end), then a range ---
    got, pos, msgs = bytearray(), 0, 0
    for c in fs.ReadStream(fs_pb2.ReadRequest(volume=VOLUME, ino=ino), timeout=TIMEOUT):
        check(c.offset == pos, "ReadStream piece at %d, want %d" % (c.offset, pos))
        check(0 < len(c.data) <= 1 << 20, "ReadStream piece of %d bytes" % len(c.data))
        got += c.data
        pos += len(c.data)
        msgs += 1
        check(msgs <= 64, "ReadStream sent more than 64 pieces")
    check(bytes(got) == expect, "ReadStream: %d bytes, want %d identical" % (len(got), len(expect)))
    check(msgs >= 2, "ReadStream of %d bytes came in %d piece(s)" % (len(expect), msgs))
    got = b"".join(c.data for c in fs.ReadStream(
        fs_pb2.ReadRequest(volume=VOLUME, ino=ino, offset=1000, length=1 << 20), timeout=TIMEOUT))
    check(got == expect[1000:1000 + (1 << 20)], "ReadStream range differs")

    # --- ReadDir of the root, with attributes, and paged ---
    rd = fs.ReadDir(fs_pb2.ReadDirRequest(volume=VOLUME, dir=ROOT_INO, with_attrs=True),
                    timeout=TIMEOUT)
    check(rd.eof, "ReadDir of a small root is not eof")
    ents = {e.name: e for e in rd.entries}
    check(name in ents, "ReadDir lacks %r: %r" % (name, sorted(ents)))
    e = ents[name]
    check(e.ino == ino and stat.S_IFMT(e.type) == stat.S_IFREG,
          "ReadDir entry ino %d type %o" % (e.ino, e.type))
    check(e.attr.size == len(expect) and e.attr.uid == uid,
          "ReadDir attr size %d uid %d" % (e.attr.size, e.attr.uid))
    names = sorted(ents)
    seen, after = [], b""
    for _ in range(len(names) + 2):  # bounded: one page per entry at most
        page = fs.ReadDir(fs_pb2.ReadDirRequest(volume=VOLUME, dir=ROOT_INO, after=after,
                                                limit=1), timeout=TIMEOUT)
        check(len(page.entries) <= 1, "ReadDir limit=1 returned %d" % len(page.entries))
        seen += [x.name for x in page.entries]
        if page.eof:
            break
        after = page.entries[-1].name
    else:
        fail("ReadDir paging did not reach eof")
    check(sorted(seen) == names and len(seen) == len(set(seen)),
          "paged ReadDir %r != %r" % (seen, names))

    # --- History: whole (limit 0, as before paging), and paged one by one ---
    full = fs.History(fs_pb2.HistoryRequest(volume=VOLUME, ino=ino), timeout=TIMEOUT)
    stamps = [(v.hlc, v.origin) for v in full.versions]
    check(len(stamps) >= 4 and not full.more, "History: %d versions, more=%s"
          % (len(stamps), full.more))
    check(stamps == sorted(stamps, reverse=True), "History is not newest first: %r" % stamps)
    seen, req = [], fs_pb2.HistoryRequest(volume=VOLUME, ino=ino, limit=1)
    for _ in range(len(stamps) + 2):  # bounded: one page per version at most
        page = fs.History(req, timeout=TIMEOUT)
        check(len(page.versions) <= 1, "History limit=1 returned %d" % len(page.versions))
        seen += [(v.hlc, v.origin) for v in page.versions]
        if not page.more:
            break
        req.after_hlc, req.after_origin = seen[-1]
    else:
        fail("History paging did not end")
    check(seen == stamps, "paged History %r != %r" % (seen, stamps))

    # --- SnapshotList: whole (limit 0) and paged one by one, in name order ---
    for i in range(3):
        name_i = b"py-%d-%d-%d" % (os.getpid(), time.monotonic_ns(), i)
        fs.SnapshotCreate(fs_pb2.SnapshotRequest(volume=VOLUME, name=name_i), timeout=TIMEOUT)
    full = fs.SnapshotList(fs_pb2.SnapshotListRequest(volume=VOLUME), timeout=TIMEOUT)
    names = [x.name for x in full.snapshots]
    check(len(names) >= 3 and not full.more and names == sorted(names),
          "SnapshotList: %r, more=%s" % (names, full.more))
    seen, req = [], fs_pb2.SnapshotListRequest(volume=VOLUME, limit=1)
    for _ in range(len(names) + 2):  # bounded: one page per snapshot at most
        page = fs.SnapshotList(req, timeout=TIMEOUT)
        check(len(page.snapshots) <= 1, "SnapshotList limit=1 returned %d" % len(page.snapshots))
        seen += [x.name for x in page.snapshots]
        if not page.more:
            break
        req.after = seen[-1]
    else:
        fail("SnapshotList paging did not end")
    check(seen == names, "paged SnapshotList %r != %r" % (seen, names))

    # --- durability and an error case with its standard code ---
    fs.Fsync(fs_pb2.VolumeRequest(volume=VOLUME), timeout=TIMEOUT)
    try:
        fs.Lookup(fs_pb2.LookupRequest(volume=VOLUME, parent=ROOT_INO, name=b"no-such-file"),
                  timeout=TIMEOUT)
        fail("Lookup of a missing name succeeded")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.NOT_FOUND, "missing name: %s, want NOT_FOUND" % e.code())
        md = dict(e.trailing_metadata() or ())
        check(md.get("cairn-errno") == str(-errno.ENOENT),
              "cairn-errno trailer %r, want %d" % (md.get("cairn-errno"), -errno.ENOENT))
    try:
        fs.GetAttr(fs_pb2.GetAttrRequest(volume=b"no-such-volume", ino=ROOT_INO), timeout=TIMEOUT)
        fail("GetAttr on a missing volume succeeded")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.NOT_FOUND, "missing volume: %s" % e.code())

    # --- a Session stream carries plain calls, answered as the plain calls are ---
    def call(method, req):
        return session_pb2.CallRequest(method="/cairn.v1.Fs/" + method,
                                       body=req.SerializeToString())
    reps = list(session_pb2_grpc.SessionStub(ch).Call(iter([
        call("Lookup", fs_pb2.LookupRequest(volume=VOLUME, parent=ROOT_INO, name=name)),
        call("Lookup", fs_pb2.LookupRequest(volume=VOLUME, parent=ROOT_INO,
                                            name=b"no-such-file")),
        call("GetAttr", fs_pb2.GetAttrRequest(volume=VOLUME, ino=ino))]), timeout=TIMEOUT))
    check(len(reps) == 3, "Session answered %d of 3 calls" % len(reps))
    a = fs_pb2.AttrReply.FromString(reps[0].body).attr
    check(reps[0].code == 0 and a.ino == ino and a.size == len(expect),
          "Session Lookup: code %d ino %d size %d" % (reps[0].code, a.ino, a.size))
    check(reps[1].code == grpc.StatusCode.NOT_FOUND.value[0] and reps[1].err == -errno.ENOENT,
          "Session Lookup of a missing name: code %d err %d" % (reps[1].code, reps[1].err))
    check(reps[2].code == 0 and fs_pb2.AttrReply.FromString(reps[2].body).attr.ino == ino,
          "Session GetAttr after an error on the same stream: code %d" % reps[2].code)
    ch.close()
    print("ok - python client over %s: %d bytes written and read back, ReadStream in %d pieces,"
          " 3 calls on one Session stream" % (tag, len(expect), msgs))
    return ino


inos = [run(t) for t in TARGETS]
check(len(set(inos)) == len(inos), "the targets made the same inode: %r" % inos)
