#!/usr/bin/env bash
# test_metrics.sh — cairnd's Prometheus endpoint on a real node: the text
# passes `promtool check metrics`; RPC counts (method and code labels),
# latency histograms, fsync histogram, byte counters, per-volume chunk bytes
# and the index size move by exactly what this test did (put/cat through
# cairnctl; every put ends with an Fsync RPC); every method x code series is
# there, at 0, before its first call; /healthz is 200 "ok", an
# unknown path 404. Counters are compared between a scrape before and after.
source "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || fail "promtool is not installed"
command -v curl >/dev/null || fail "curl is not installed"

node_start n1
make_volume n1 v1 2 64M
make_volume n1 v2 1 64M
url=http://$N1_METRICS

scrape() { curl -sS --max-time 10 -o "$1" -w '%{http_code}' "$url/metrics"; }
[[ $(scrape "$T_TMP/before.prom") == 200 ]] || fail "GET /metrics before: not 200"
# Every method x code series exists before its first use (metrics.c (1)), so
# rate() and increase() see a first error after a restart.
grep -q '^cairn_rpc_requests_total{method="Fs.Resolve",code="NOT_FOUND"} 0$' \
  "$T_TMP/before.prom" || fail "no zero NOT_FOUND series for Fs.Resolve before any call"
grep -q '^cairn_rpc_requests_total{method="Fs.Write",code="DATA_LOSS"} 0$' \
  "$T_TMP/before.prom" || fail "no zero DATA_LOSS series for Fs.Write before any call"

# The traffic: three new files (two unary writes, one streamed), each read
# back, plus one read of a missing file. Sizes are what the counters must show.
head -c 1000 /dev/urandom > "$T_TMP/small.bin"
head -c $((3 * 512 * 1024 + 7)) /dev/urandom > "$T_TMP/large.bin"   # > 1 MiB: WriteStream
head -c 5000 /dev/urandom > "$T_TMP/other.bin"
ctl n1 put v1:/small.bin "$T_TMP/small.bin" || fail "put small"
ctl n1 put v1:/large.bin "$T_TMP/large.bin" || fail "put large"
ctl n1 put v2:/other.bin "$T_TMP/other.bin" || fail "put other"
for f in v1:/small.bin:small v1:/large.bin:large v2:/other.bin:other; do
  ctl n1 cat "${f%:*}" | cmp -s - "$T_TMP/${f##*:}.bin" || fail "cat ${f%:*} differs"
done
! ctl n1 cat v1:/missing.bin > /dev/null 2>&1 || fail "cat of a missing file succeeded"
bytes=$((1000 + 3 * 512 * 1024 + 7 + 5000))

# RPC counters are bumped when the call's last batch completes, just after
# the client has its answer: scrape until the last call shows (bounded).
for ((i = 0; i < 50; i++)); do
  [[ $(scrape "$T_TMP/after.prom") == 200 ]] || fail "GET /metrics after: not 200"
  grep -q '^cairn_rpc_requests_total{method="Fs.Resolve",code="NOT_FOUND"} 1$' \
    "$T_TMP/after.prom" && break
  sleep 0.1
done

out=$(promtool check metrics < "$T_TMP/after.prom" 2>&1) ||
  fail "promtool check metrics: $out"
[[ -z $out ]] || fail "promtool check metrics complains: $out"
pass "promtool check metrics"

/usr/bin/python3 -u - "$T_TMP/before.prom" "$T_TMP/after.prom" "$bytes" <<'PY' ||
import math, re, sys
MIB = 1 << 20

def load(path):
    types, s = {}, {}
    for ln in open(path, encoding="utf-8"):
        ln = ln.rstrip("\n")
        if ln.startswith("# TYPE "):
            _, _, name, typ = ln.split(" ", 3)
            types[name] = typ
            continue
        if not ln or ln.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)', ln)
        if not m:
            sys.exit("FAIL: unparsable sample line: %r" % ln)
        labels = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                         m.group(2) or "")))
        key = (m.group(1), labels)
        if key in s:
            sys.exit("FAIL: duplicate series %r" % (key,))
        s[key] = float(m.group(3))
    return types, s

def fail(msg):
    sys.exit("FAIL: " + msg)

tb, b = load(sys.argv[1])
ta, a = load(sys.argv[2])
moved = int(sys.argv[3])

def val(s, name, **lab):
    return s.get((name, tuple(sorted(lab.items()))))

def need(name, **lab):
    v = val(a, name, **lab)
    if v is None:
        fail("no series %s%r" % (name, lab))
    return v

def delta(name, **lab):
    return need(name, **lab) - (val(b, name, **lab) or 0.0)

# Families and types.
for fam, typ in (("cairn_rpc_requests_total", "counter"),
                 ("cairn_rpc_duration_seconds", "histogram"),
                 ("cairn_fsync_duration_seconds", "histogram"),
                 ("cairn_read_bytes_total", "counter"),
                 ("cairn_written_bytes_total", "counter"),
                 ("cairn_volume_chunk_bytes", "gauge"),
                 ("cairn_index_bytes", "gauge"),
                 ("cairn_reindexing", "gauge"),
                 ("cairn_index_lost", "gauge")):
    if ta.get(fam) != typ:
        fail("%s has TYPE %r, want %s" % (fam, ta.get(fam), typ))

# Counters never go down between scrapes.
for key, v in b.items():
    if ta.get(key[0]) == "counter" and a.get(key, 0) < v:
        fail("counter %r went down: %g -> %g" % (key, v, a.get(key, 0)))

# cairn_rpc_requests_total: method and code labels; exact moves.
req = {k: v for k, v in a.items() if k[0] == "cairn_rpc_requests_total"}
methods = set()
for (_, lab), v in req.items():
    d = dict(lab)
    if set(d) != {"method", "code"}:
        fail("cairn_rpc_requests_total labels %r, want method and code" % (d,))
    methods.add(d["method"])
for m in ("Fs.Lookup", "Fs.Mknod", "Fs.Write", "Fs.WriteStream", "Fs.Fsync", "Fs.Resolve",
          "Fs.Read", "Fs.ReadStream", "Admin.NodeStatus", "Admin.VolumeList", "Peer.Ping"):
    if m not in methods:
        fail("cairn_rpc_requests_total has no method %s (series must exist from start-up)" % m)
for (m, code), op, want in ((("Fs.Mknod", "OK"), "==", 3), (("Fs.Fsync", "OK"), "==", 3),
                            (("Fs.Write", "OK"), ">=", 2), (("Fs.WriteStream", "OK"), ">=", 1),
                            (("Fs.Lookup", "NOT_FOUND"), ">=", 3),
                            (("Fs.Resolve", "OK"), ">=", 3),
                            (("Fs.Resolve", "NOT_FOUND"), "==", 1)):
    d = delta("cairn_rpc_requests_total", method=m, code=code)
    if not (d == want if op == "==" else d >= want):
        fail("cairn_rpc_requests_total{method=%s,code=%s} moved by %g, want %s %d"
             % (m, code, d, op, want))
reads = sum(delta("cairn_rpc_requests_total", method=m, code="OK")
            for m in ("Fs.Read", "Fs.ReadStream"))
if reads < 3:
    fail("Read+ReadStream OK moved by %g, want >= 3 (three cats)" % reads)
print("ok - cairn_rpc_requests_total: %d methods; Mknod +3, Fsync +3, Resolve NOT_FOUND +1"
      % len(methods))

# Histograms: cumulative buckets, +Inf == _count, _count == calls.
def hist(s, name, **lab):
    bk = []
    for (n, l), v in s.items():
        d = dict(l)
        if n == name + "_bucket" and all(d.get(k) == x for k, x in lab.items()) \
                and set(d) == set(lab) | {"le"}:
            bk.append((math.inf if d["le"] == "+Inf" else float(d["le"]), v))
    bk.sort()
    if len(bk) < 2 or bk[-1][0] != math.inf:
        fail("%s%r: buckets %r lack +Inf" % (name, lab, bk))
    for (l0, v0), (l1, v1) in zip(bk, bk[1:]):
        if v1 < v0:
            fail("%s%r: bucket le=%g (%g) < le=%g (%g)" % (name, lab, l1, v1, l0, v0))
    cnt = s.get((name + "_count", tuple(sorted(lab.items()))))
    sm = s.get((name + "_sum", tuple(sorted(lab.items()))))
    if cnt is None or sm is None:
        fail("%s%r lacks _count or _sum" % (name, lab))
    if cnt != bk[-1][1]:
        fail("%s%r: _count %g != +Inf bucket %g" % (name, lab, cnt, bk[-1][1]))
    return bk, cnt, sm

for m in methods:
    _, cnt, _ = hist(a, "cairn_rpc_duration_seconds", method=m)
    calls = sum(v for (n, l), v in req.items() if dict(l)["method"] == m)
    if cnt != calls:
        fail("cairn_rpc_duration_seconds_count{method=%s} %g != %g calls" % (m, cnt, calls))
_, c1, s1 = hist(a, "cairn_rpc_duration_seconds", method="Fs.Fsync")
_, c0, s0 = hist(b, "cairn_rpc_duration_seconds", method="Fs.Fsync")
if c1 - c0 != 3 or s1 <= s0:
    fail("Fs.Fsync latency: count +%g (want 3), sum %g -> %g" % (c1 - c0, s0, s1))
print("ok - cairn_rpc_duration_seconds: %d histograms, cumulative, _count == calls" % len(methods))
bk, c1, s1 = hist(a, "cairn_fsync_duration_seconds")
_, c0, s0 = hist(b, "cairn_fsync_duration_seconds")
if c1 - c0 != 3 or not s1 > s0:
    fail("cairn_fsync_duration_seconds: count +%g (want 3), sum %g -> %g" % (c1 - c0, s0, s1))
print("ok - cairn_fsync_duration_seconds: +3 observations, %d buckets" % len(bk))

# Bytes moved: exactly what the puts wrote and the cats read.
for name in ("cairn_written_bytes_total", "cairn_read_bytes_total"):
    d = delta(name)
    if d != moved:
        fail("%s moved by %d, want %d" % (name, d, moved))
print("ok - written and read bytes each +%d" % moved)

# Per-volume chunk bytes and the index.
for vol, chunks, wrote in (("v1", 2, 1000 + 3 * 512 * 1024 + 7), ("v2", 1, 5000)):
    cap = need("cairn_volume_chunk_bytes", volume=vol, kind="capacity")
    if not (chunks * 64 * MIB - chunks * 65536 <= cap <= chunks * 64 * MIB):
        fail("%s capacity %d, want about %d x 64 MiB" % (vol, cap, chunks))
    used = delta("cairn_volume_chunk_bytes", volume=vol, kind="used")
    if not (wrote <= used <= wrote + 65536):
        fail("%s used moved by %d, want %d plus record overhead" % (vol, used, wrote))
idx = need("cairn_index_bytes")
if idx < 0 or idx != int(idx):
    fail("cairn_index_bytes is %g" % idx)
if need("cairn_reindexing") != 0:
    fail("cairn_reindexing is %g with no reindex running" % need("cairn_reindexing"))
if need("cairn_index_lost") != 0:
    fail("cairn_index_lost is %g with no reindex failed" % need("cairn_index_lost"))
print("ok - cairn_volume_chunk_bytes for v1 and v2; cairn_index_bytes present; not reindexing")
PY
  fail "metric values (see above)"

# cairn_index_bytes is the size of the index's SST files (RocksDB
# total-sst-files-size: the WAL is not counted, so a node whose index has
# not been flushed yet shows 0). It must match the files and NodeStatus;
# after a restart (the WAL is flushed to an SST at open) it is above 0.
index_check() {
  local i m s n
  for ((i = 0; i < 20; i++)); do
    m=$(curl -sS --max-time 10 "$url/metrics" | awk '$1 == "cairn_index_bytes" {print $2}')
    s=$(find "$N1_DIR/data/index" -name '*.sst' -printf '%s\n' | awk '{t += $1} END {print t + 0}')
    n=$(ctl n1 --json node status |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["index_bytes"])')
    [[ -n $m && $m == "$s" && $m == "$n" ]] && { echo "$m"; return 0; }
    sleep 0.1
  done
  fail "cairn_index_bytes '$m', SST files $s bytes, NodeStatus index_bytes $n ($1)"
}
idx=$(index_check "after writes")
pass "cairn_index_bytes $idx == SST bytes in data/index == NodeStatus index_bytes"
node_kill n1 TERM
node_start n1
idx=$(index_check "after a restart")
(( idx > 0 )) || fail "cairn_index_bytes is 0 after a restart with an index"
after=$(curl -sS --max-time 10 "$url/metrics")
for v in v1 v2; do
  grep -q "^cairn_volume_chunk_bytes{volume=\"$v\",kind=\"used\"} [1-9]" <<< "$after" ||
    fail "no cairn_volume_chunk_bytes used for $v after a restart"
done
pass "after a restart: cairn_index_bytes $idx, volume series back"

# /healthz, unknown paths, methods, content type.
body=$(curl -sS --max-time 10 -w '|%{http_code}' "$url/healthz") || fail "GET /healthz"
[[ $body == $'ok\n|200' || $body == 'ok|200' ]] || fail "GET /healthz: '$body', want 200 ok"
pass "/healthz 200 ok"
for p in /nope /metrics/x /healthz/ / /METRICS; do
  code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$url$p")
  [[ $code == 404 ]] || fail "GET $p: $code, want 404"
done
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X POST -d x "$url/metrics")
[[ $code == 405 ]] || fail "POST /metrics: $code, want 405"
ctype=$(curl -sS --max-time 10 -o /dev/null -w '%{content_type}' "$url/metrics")
[[ $ctype == text/plain* ]] || fail "/metrics Content-Type '$ctype'"
pass "unknown paths 404, POST 405, Content-Type $ctype"

kill -0 "$(node_pid n1)" 2>/dev/null || fail "cairnd died"
node_kill n1 TERM
pass "metrics"
