"""stall_clients.py — clients that stop halfway, against a real cairnd (driven
by test_unresponsive.sh): N ReadStreams of a file that read their first piece
and then nothing more (cairnd's sends stop at the HTTP/2 window), and N
WriteStreams that send one piece of a scratch file and then nothing (no more
pieces, no end). All share one channel, as one stuck program would.

Usage: /usr/bin/python3 stall_clients.py STUBS TARGET VOLUME READ_PATH SCRATCH_PATH N SECONDS

Prints "stalled N" once every stream is open and stuck, then holds them until
it is killed (the test's way to end it, as a stuck program's) or for at most
SECONDS, then exits 0 without ending them cleanly. Exit 1 when the streams
could not be set up.
"""
import os
import sys
import threading

STUBS, TARGET, VOL, READ_PATH, SCRATCH, N, SECONDS = sys.argv[1:8]
sys.path.insert(0, STUBS)

import grpc  # noqa: E402
from cairn.v1 import fs_pb2, fs_pb2_grpc  # noqa: E402

N, SECONDS = int(N), float(SECONDS)
vol = VOL.encode()
ch = grpc.insecure_channel(TARGET)
fs = fs_pb2_grpc.FsStub(ch)
src = fs.Resolve(fs_pb2.ResolveRequest(volume=vol, path=READ_PATH.encode()), timeout=30).attr
dst = fs.Resolve(fs_pb2.ResolveRequest(volume=vol, path=SCRATCH.encode()), timeout=30).attr
gate = threading.Event()

readers = []
for k in range(N):
    it = fs.ReadStream(fs_pb2.ReadRequest(volume=vol, ino=src.ino, length=src.size),
                       timeout=SECONDS + 60)
    first = next(it)
    if first.offset != 0 or not first.data:
        sys.exit("a ReadStream's first piece is not the file's start")
    readers.append(it)


def one_piece(k):
    yield fs_pb2.WriteRequest(volume=vol, ino=dst.ino, offset=k * 4096, data=b"s" * 4096)
    gate.wait(SECONDS + 60)  # then nothing: the stream stays open


writers = [fs.WriteStream.future(one_piece(k), timeout=SECONDS + 60) for k in range(N)]
print("stalled", N, flush=True)
gate.wait(SECONDS)
os._exit(0)  # as a program that dies: nothing is ended cleanly
