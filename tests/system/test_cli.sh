#!/usr/bin/env bash
# test_cli.sh — every cairnctl command against one real cairnd: node, member,
# cluster, chunk, volume, put/cat/ls/rm/history, snapshots and --at reads
# (snapshot and time), conflicts/repl, help and usage errors, errors from a
# server that is not running; then everything is read back after a restart
# (SIGTERM) and after `node reindex`, and must be identical.
#
# Exit status contract checked here (client/ctl/main.c): 0 ok, 1 the
# operation failed with exactly one line on stderr, 2 bad usage.
# Checks of known product defects (defect) print "not ok - ..." and let the
# test go on, so the checks after them still run; the test fails at the end.
source "$(dirname "$0")/lib.sh"

OUT=$T_TMP/out
ERR=$T_TMP/err

# run WANT CMD...: runs CMD (stdout -> $OUT, stderr -> $ERR) and fails unless
# its exit status is WANT.
run() {
  local want=$1 rc=0
  shift
  "$@" >"$OUT" 2>"$ERR" || rc=$?
  [[ $rc == "$want" ]] ||
    fail "'$*' exited $rc, want $want; stderr: $(head -c 400 "$ERR")"
}

# err1 PATTERN: the last command wrote exactly one line to stderr, a cairnctl
# error that matches the extended regex PATTERN.
err1() {
  local n
  n=$(wc -l <"$ERR")
  [[ $n == 1 ]] || fail "want one line on stderr, got $n: $(head -c 400 "$ERR")"
  grep -Eq "^cairnctl: .*$1" "$ERR" || fail "stderr '$(cat "$ERR")' does not match '$1'"
}

# pyj EXPR: evaluates the Python expression EXPR with d = JSON of $OUT and
# prints it (JSON for containers and booleans).
pyj() {
  /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
r = eval(sys.argv[2])
print(json.dumps(r) if isinstance(r, (dict, list, bool)) else r)' "$OUT" "$1"
}

# want_eq WHAT GOT WANT
want_eq() { [[ $2 == "$3" ]] || fail "$1: got '$2', want '$3'"; }

now_ms() { date +%s%3N; }

# defect MSG: a failed check that does not stop the test (so the checks after
# it still run); the test fails at the end. Used where the product is known
# to be wrong and the state can be repaired to go on.
DEFECTS=()
defect() {
  echo "not ok - $*"
  DEFECTS+=("$*")
}
# pass (lib.sh's, aware of defects): "not ok" for a group with defects.
PASSED_DEFECTS=0
pass() {
  if (( ${#DEFECTS[@]} > PASSED_DEFECTS )); then
    echo "not ok - $* ($((${#DEFECTS[@]} - PASSED_DEFECTS)) failed checks above)"
  else
    echo "ok - $*"
  fi
  PASSED_DEFECTS=${#DEFECTS[@]}
}

node_start n1
F=$T_TMP/files
mkdir -p "$F"

# ---- help at every level, bad usage -----------------------------------
for h in --help -h help; do
  run 0 "$CAIRNCTL" $h
  grep -q '^usage: cairnctl' "$OUT" || fail "cairnctl $h printed no usage"
  [[ ! -s $ERR ]] || fail "cairnctl $h wrote to stderr"
done
# Every command the top-level help lists, e.g. "  chunk create [--count N]..."
mapfile -t cmds < <(sed -n '/^commands:/,$p' "$OUT" | tail -n +2 |
  awk '{ if ($2 ~ /^[a-z]+$/) print $1 " " $2; else print $1 }')
(( ${#cmds[@]} >= 18 )) || fail "cairnctl --help lists ${#cmds[@]} commands, want >= 18"
declare -A nouns=()
for c in "${cmds[@]}"; do
  nouns[${c%% *}]=1
  # shellcheck disable=SC2086
  run 0 "$CAIRNCTL" $c --help
  grep -q "^usage: cairnctl $c" "$OUT" || fail "cairnctl $c --help: no usage line: $(cat "$OUT")"
done
for n in "${!nouns[@]}"; do
  run 0 "$CAIRNCTL" "$n" --help
  grep -q "usage" "$OUT" || fail "cairnctl $n --help printed no usage"
done
pass "--help at every level (${#cmds[@]} commands, ${#nouns[@]} nouns) exits 0 with usage"

run 2 "$CAIRNCTL"
grep -q '^usage:' "$ERR" || fail "no arguments: no usage on stderr"
run 2 "$CAIRNCTL" --bogus-option
run 2 "$CAIRNCTL" frobnicate
grep -q "unknown command 'frobnicate'" "$ERR" || fail "unknown noun: $(cat "$ERR")"
run 2 "$CAIRNCTL" node frobnicate
grep -q "unknown node command 'frobnicate'" "$ERR" || fail "unknown verb: $(cat "$ERR")"
run 2 "$CAIRNCTL" node
run 2 ctl n1 node status extra
run 2 ctl n1 put
run 2 ctl n1 put v1:/a b c
run 2 ctl n1 cat
run 2 ctl n1 cat v1-without-path
grep -q 'is not VOLUME:/PATH' "$ERR" || fail "bad VOLUME:/PATH: $(cat "$ERR")"
run 2 ctl n1 cat v1:relative
run 2 ctl n1 cat v1:/x --at
run 2 ctl n1 ls
run 2 ctl n1 rm
run 2 ctl n1 history
run 2 ctl n1 chunk create --count 0
run 2 ctl n1 chunk create --count 1025
run 2 ctl n1 chunk create --size 12Q
run 2 ctl n1 chunk create --size
run 2 ctl n1 chunk assign onlyone
run 2 ctl n1 volume create
run 2 ctl n1 volume create a b
run 2 ctl n1 snapshot create v1
# snapshot names that --at would read as a time (or a bad time)
for name in @5 1700000000000 2026-11-24T18:00:00Z '2026-11-24 18:00:00' 2026-02-31T00:00:00 \
  2026-13-01; do
  run 2 ctl n1 snapshot create v1 "$name"
  err1 'reads as a time'
done
run 2 ctl n1 snapshot list
run 2 ctl n1 conflicts list
run 2 ctl n1 cluster init
run 2 ctl n1 cluster init --out
run 2 ctl n1 chunk create --size 16777216T # 2^64: does not fit
run 2 ctl n1 chunk create --size 0
# --at values that look like times but are not (never read as "now")
for at in @0 @-5 '' 2026-02-31T00:00:00Z 2026-13-01T00:00:00 2026-11-24T25:00:00 \
  2026-11-24T18:00:00Zjunk 99999999999999999999; do
  run 2 ctl n1 cat v1:/x --at "$at"
done
pass "bad usage exits 2"

# ---- a server that is not running ---------------------------------------
dead=unix:$T_TMP/no-such-dir/cairnd.sock
dead_tcp=127.0.0.1:$(free_port)
for args in "node status" "member list" "chunk list" "chunk create" "volume list" \
  "volume create vx" "snapshot list v1" "conflicts list v1" "repl status" \
  "ls v1:/" "cat v1:/x" "rm v1:/x" "history v1:/x" "node reindex"; do
  for srv in "$dead" "$dead_tcp"; do
    # shellcheck disable=SC2086
    run 1 timeout 60 "$CAIRNCTL" --server "$srv" $args
    if [[ $args == "node reindex" && $(wc -l <"$ERR") != 1 ]]; then
      # cmd_node.c prints "reindexing: ..." before the call that fails
      [[ $srv != "$dead" ]] ||
        defect "cairnctl node reindex against a dead server: $(wc -l <"$ERR") lines on stderr, want 1"
      tail -1 "$ERR" >"$ERR.1" && mv "$ERR.1" "$ERR"
    fi
    err1 'cannot reach cairnd'
  done
done
echo data >"$F/small"
run 1 timeout 60 "$CAIRNCTL" --server "$dead" put v1:/x "$F/small"
err1 'cannot reach cairnd'
pass "commands against a server that is not running exit 1 with one line"

# ---- node status, member list --------------------------------------------
run 0 ctl n1 node status
grep -Eq '^name +n1$' "$OUT" || fail "node status: no 'name n1' line: $(cat "$OUT")"
grep -Eq "^data dir +$N1_DIR/data$" "$OUT" || fail "node status: data dir: $(cat "$OUT")"
grep -Eq "^index +ok$" "$OUT" || fail "node status: no 'index ok' line: $(cat "$OUT")"
run 0 ctl n1 --json node status
want_eq "status.name" "$(pyj 'd["name"]')" n1
want_eq "status.data_dir" "$(pyj 'd["data_dir"]')" "$N1_DIR/data"
want_eq "status fields" "$(pyj 'sorted(d)')" \
  '["bytes_appended", "checksum_errors", "chunks", "damaged_located", "data_dir", "flushes", "index_bytes", "index_lost", "index_rebuilt", "name", "node_id", "uptime_s", "version", "volumes"]'
want_eq "status.checksum_errors" "$(pyj 'd["checksum_errors"]')" 0
want_eq "status.index_lost" "$(pyj 'd["index_lost"]')" false
want_eq "status.damaged_located" "$(pyj 'd["damaged_located"]')" 0
want_eq "status.index_rebuilt" "$(pyj 'd["index_rebuilt"]')" "" # a new node: nothing to rebuild
want_eq "status.chunks" "$(pyj 'd["chunks"]')" 0
node_id=$(pyj 'd["node_id"]')
[[ $node_id =~ ^[0-9]+$ && $node_id != 0 ]] || fail "node_id '$node_id'"
run 0 ctl n1 node status --json # --json after the command
want_eq "status.node_id (--json last)" "$(pyj 'd["node_id"]')" "$node_id"
run 0 ctl n1 member list
grep -Eq "^$node_id +n1 +alive" "$OUT" || fail "member list: $(cat "$OUT")"
run 0 ctl n1 --json member list
want_eq "member list json" "$(pyj '[(m["node_id"], m["name"], m["state"], m["self"]) for m in d]')" \
  "[[$node_id, \"n1\", \"alive\", true]]"
pass "node status, member list (text and --json)"

# ---- cluster init -----------------------------------------------------------
key=$T_TMP/cluster.key
run 0 ctl n1 cluster init --out "$key"
want_eq "key file mode" "$(stat -c %a "$key")" 600
keyline=$(grep -v '^#' "$key")
want_eq "key length" "$(/usr/bin/python3 -c 'import base64,sys; print(len(base64.b64decode(sys.argv[1], validate=True)))' "$keyline")" 32
! grep -qF "$keyline" "$OUT" "$ERR" || fail "cluster init printed the key"
cp "$key" "$T_TMP/key.before"
run 1 ctl n1 cluster init --out "$key"
err1 'File exists'
cmp -s "$key" "$T_TMP/key.before" || fail "cluster init overwrote an existing key"
run 0 ctl n1 cluster init --out "$T_TMP/cluster2.key"
[[ $(grep -v '^#' "$T_TMP/cluster2.key") != "$keyline" ]] || fail "two cluster keys are equal"
run 1 ctl n1 cluster init --out "$T_TMP/no-such-dir/k"
err1 'No such file'
pass "cluster init --out: mode 0600, 32-byte key, refuses to overwrite"

# ---- chunks -------------------------------------------------------------------
run 0 ctl n1 --json chunk list
want_eq "no chunks yet" "$(cat "$OUT")" "[]"
run 0 ctl n1 --json chunk create --count 3 --size 64M
cp "$OUT" "$T_TMP/created.json"
want_eq "created" "$(pyj 'len(d)')" 3
want_eq "capacities" "$(pyj '[c["capacity"] for c in d]')" "[67108864, 67108864, 67108864]"
want_eq "unassigned" "$(pyj '[c["volume"] for c in d]')" '["", "", ""]'
mapfile -t ch < <(pyj '"\n".join(c["id"] for c in d)')
for id in "${ch[@]}"; do [[ $id =~ ^[0-9a-f]{32}$ ]] || fail "chunk id '$id'"; done
run 0 ctl n1 chunk create --size 64MiB
grep -Eq '^[0-9a-f]{32} +[0-9]+ +64\.0M' "$OUT" || fail "chunk create text: $(cat "$OUT")"
ch+=("$(awk 'NR == 2 { print $1 }' "$OUT")")
run 0 ctl n1 --json chunk list
want_eq "listed ids" "$(pyj 'sorted(c["id"] for c in d)')" \
  "$(printf '%s\n' "${ch[@]}" | /usr/bin/python3 -c 'import json,sys; print(json.dumps(sorted(sys.stdin.read().split())))')"
want_eq "numbers distinct" "$(pyj 'len(set(c["number"] for c in d))')" 4
want_eq "numbers from 1" "$(pyj 'min(c["number"] for c in d)')" 1
listed=$(pyj '{c["id"]: c["number"] for c in d}')
reported=$(/usr/bin/python3 -c 'import json,sys; print(json.dumps({c["id"]: c["number"] for c in json.load(open(sys.argv[1]))}))' "$T_TMP/created.json")
/usr/bin/python3 -c 'import json,sys; c=json.loads(sys.argv[1]); l=json.loads(sys.argv[2]); sys.exit(any(l[i] != n for i, n in c.items()))' "$reported" "$listed" ||
  defect "chunk create reports chunk numbers $reported, chunk list says $listed (service.c h_chunk_create)"
run 0 ctl n1 chunk list
want_eq "chunk list text rows" "$(grep -c '^[0-9a-f]\{32\} ' "$OUT")" 4

run 0 ctl n1 volume create v1
run 0 ctl n1 volume create v2 --durability local
run 1 ctl n1 volume create v3 --durability replicas=2 # no replication yet: refused
err1 'volume create v3: --durability replicas=2 needs replication to peers'
run 0 ctl n1 volume create v3 --durability local
run 0 ctl n1 chunk assign "${ch[0]}" v1
run 0 ctl n1 chunk assign "${ch[1]}" v1
run 0 ctl n1 chunk assign "${ch[2]}" v2
run 1 ctl n1 chunk assign "${ch[0]}" v1 # assigning twice
err1 "chunk assign ${ch[0]} v1: "
run 1 ctl n1 chunk assign "${ch[0]}" v2 # to another volume
err1 "chunk assign ${ch[0]} v2: "
run 1 ctl n1 chunk assign 0123456789abcdef0123456789abcdef v1 # unknown chunk
err1 'No such file'
run 1 ctl n1 chunk assign not-a-chunk-id v1
err1 'chunk assign not-a-chunk-id v1: '
run 1 ctl n1 chunk assign "${ch[3]}" no-such-volume
err1 'No such file'
run 0 ctl n1 --json chunk list
want_eq "assignment" "$(pyj 'sorted((c["id"], c["volume"]) for c in d)')" \
  "$(/usr/bin/python3 -c 'import json,sys; print(json.dumps(sorted([[sys.argv[1],"v1"],[sys.argv[2],"v1"],[sys.argv[3],"v2"],[sys.argv[4],""]])))' "${ch[@]}")"
pass "chunk create/list/assign (+ --json; unknown chunk, twice, unknown volume fail)"

# ---- volumes ------------------------------------------------------------------
run 1 ctl n1 volume create v1
err1 'volume create v1: File exists'
run 1 ctl n1 volume create v4 --durability sometimes
err1 'volume create v4: '
run 0 ctl n1 --json volume list
want_eq "volumes" "$(pyj 'sorted((v["name"], v["durability"], v["chunks"], v["capacity"], v["read_only"]) for v in d)')" \
  '[["v1", "local", 2, 134217728, false], ["v2", "local", 1, 67108864, false], ["v3", "local", 0, 0, false]]'
run 0 ctl n1 volume list
grep -Eq '^v3 +local +0 ' "$OUT" || fail "volume list text: $(cat "$OUT")"
pass "volume create/list (local; replicas=N refused until replication exists; duplicate and bad durability fail)"

# ---- put, cat, ls, rm --------------------------------------------------------------
printf 'hello, cairn\n' >"$F/hello"
run 0 ctl n1 put v1:/hello "$F/hello"
run 0 ctl n1 cat v1:/hello
cmp -s "$OUT" "$F/hello" || fail "cat v1:/hello differs"
printf 'from stdin\n' >"$F/stdin"
printf 'from stdin\n' | ctl n1 put v1:/docs/stdin.txt || fail "put from a pipe"
run 0 ctl n1 cat v1:/docs/stdin.txt
cmp -s "$OUT" "$F/stdin" || fail "cat of a put from stdin differs"
run 0 ctl n1 put v1:/docs/dash.txt - <"$F/hello"
run 0 ctl n1 cat v1:/docs/dash.txt
cmp -s "$OUT" "$F/hello" || fail "put - differs"
# "--" ends the options: local files named like them can be put
printf 'named --json\n' >"$F/--json"
printf 'named --at\n' >"$F/--at"
(cd "$F" && run 0 ctl n1 put v1:/a/b/json.txt -- --json)
run 0 ctl n1 cat -- v1:/a/b/json.txt
cmp -s "$OUT" "$F/--json" || fail "put -- --json did not store the local file '--json'"
(cd "$F" && run 0 ctl n1 put v1:/a/b/at.txt -- --at)
run 0 ctl n1 cat v1:/a/b/at.txt
cmp -s "$OUT" "$F/--at" || fail "put -- --at did not store the local file '--at'"
run 2 ctl n1 cat v1:/a/b/json.txt -- --help # an operand now: one too many
(cd "$F" && run 0 "$CAIRNCTL" --server "unix:$N1_SOCK" -- put v1:/a/b/json2.txt --json)
run 0 ctl n1 cat v1:/a/b/json2.txt
cmp -s "$OUT" "$F/--json" || fail "cairnctl -- put ... --json did not store the local file '--json'"
# binary, larger than one 4 MiB I/O piece and one 1 MiB RPC piece
head -c 5000037 /dev/urandom >"$F/big"
chmod 0600 "$F/big"
run 0 ctl n1 put v1:/a/b/c/d/big.bin "$F/big"
run 0 ctl n1 cat v1:/a/b/c/d/big.bin
cmp -s "$OUT" "$F/big" || fail "cat of the 5 MB binary differs"
: >"$F/empty"
run 0 ctl n1 put v1:/a/empty "$F/empty"
run 0 ctl n1 cat v1:/a/empty
[[ ! -s $OUT ]] || fail "empty file reads non-empty"
# overwrite with shorter content: nothing of the old tail may remain
head -c 3000 /dev/urandom >"$F/long"
run 0 ctl n1 put v1:/docs/over "$F/long"
printf 'short' | ctl n1 put v1:/docs/over || fail "put shorter"
run 0 ctl n1 cat v1:/docs/over
want_eq "overwritten" "$(cat "$OUT")" short
run 1 ctl n1 cat v1:/no/such/file
err1 'v1:/no/such/file: No such file'
run 1 ctl n1 cat no-volume:/hello
err1 'No such file'
run 1 ctl n1 cat v1:/a
err1 'Is a directory'
run 1 ctl n1 put v1:/hello/below "$F/hello" # a file is not a directory
err1 'Not a directory'
run 1 ctl n1 put v1:/a "$F/hello"
err1 'Is a directory'
run 1 ctl n1 put v1:/x "$T_TMP/no-such-local-file"
err1 'no-such-local-file: No such file'
# A trailing slash names a directory; put must not create a file "trail"
# (walk_parent in cmd_file.c says "a trailing slash: no name" -> EINVAL).
rc=0
ctl n1 put v1:/trail/ "$F/hello" >"$OUT" 2>"$ERR" || rc=$?
if [[ $rc != 1 ]]; then
  defect "put v1:/trail/ (trailing slash) exited $rc, want 1 (it created a file 'trail')"
  run 0 ctl n1 rm v1:/trail # repair, so the listings below hold
fi
run 1 ctl n1 ls v1:/trail
# A trailing slash on a file: POSIX path resolution says ENOTDIR.
rc=0
ctl n1 cat v1:/hello/ >"$OUT" 2>"$ERR" || rc=$?
if [[ $rc != 1 ]] || ! grep -q 'Not a directory' "$ERR"; then
  defect "cat v1:/hello/ (a file with a trailing slash) exited $rc, want 1 'Not a directory' (fsops.c fs_resolve)"
fi
run 0 ctl n1 put v1:/victim "$F/hello"
rc=0
ctl n1 rm v1:/victim/ >"$OUT" 2>"$ERR" || rc=$?
if [[ $rc != 1 ]]; then
  defect "rm v1:/victim/ (a file with a trailing slash) exited $rc, want 1"
fi
ctl n1 rm v1:/victim >/dev/null 2>&1 || true
# a directory as the source fails before anything is made
run 1 ctl n1 put v1:/fromdir /etc
err1 'Is a directory'
run 1 ctl n1 ls v1:/fromdir
# a source that grows while it is read fails: its copy would be no state of it
head -c 50000000 /dev/zero >"$F/growing"
(for ((i = 0; i < 5000; i++)); do echo x >>"$F/growing"; sleep 0.001; done) &
gp=$!
sleep 0.05
rc=0
ctl n1 put v1:/growing "$F/growing" >"$OUT" 2>"$ERR" || rc=$?
kill "$gp" 2>/dev/null || true
wait "$gp" 2>/dev/null || true
[[ $rc == 1 ]] || fail "put of a file that grew while it was read exited $rc, want 1"
err1 'changed while it was read'
ctl n1 rm v1:/growing >/dev/null 2>&1 || true
rm -f "$F/growing"
# "help" after a command is an argument (here a local file that is not there)
run 1 ctl n1 put v1:/named help
# a listing that cannot be written out is a failure
rc=0
ctl n1 --json volume list >/dev/full 2>"$ERR" || rc=$?
[[ $rc == 1 ]] || fail "volume list >/dev/full exited $rc, want 1"
pass "put (file, stdin, '-', nested dirs, 5 MB binary, empty, shorter overwrite), cat, errors"

run 0 ctl n1 --json ls v1:/
want_eq "root listing" "$(pyj '[(e["name"], e["type"]) for e in d]')" \
  '[["a", "dir"], ["docs", "dir"], ["hello", "file"]]'
run 0 ctl n1 --json ls v1:/a/b/c/d
want_eq "ls json" "$(pyj '[(e["name"], e["type"], e["size"], e["mode"], e["nlink"]) for e in d]')" \
  '[["big.bin", "file", 5000037, "0600", 1]]'
run 0 ctl n1 ls v1:/a/b/c/d/big.bin --json
want_eq "ls file json" "$(pyj '[(e["name"], e["size"]) for e in d]')" '[["big.bin", 5000037]]'
# ino is above 2^53 (the node id is in its high bits): a string of digits
want_eq "ls ino string" "$(pyj 'isinstance(d[0]["ino"], str) and int(d[0]["ino"]) > 2**53')" true
run 0 ctl n1 ls v1:/docs
want_eq "ls text rows" "$(awk '{ print $1 ":" $NF }' "$OUT" | tr '\n' ' ')" \
  "file:dash.txt file:over file:stdin.txt "
grep -Eq '^file +0644 +[0-9]+ +[0-9]+ +5 ' <(grep ' over$' "$OUT") || fail "ls row of over: $(cat "$OUT")"
run 0 ctl n1 ls v1:/hello
grep -Eq '^file +0644 .* 13 .* hello$' "$OUT" || fail "ls of a file: $(cat "$OUT")"
run 1 ctl n1 ls v1:/nothing
err1 'No such file'
# names are bytes: --json stays valid JSON for names that are not UTF-8
# (each such byte as a lone surrogate U+DC80+byte, Python's surrogateescape)
run 0 ctl n1 put "v1:/bytes/"$'a\xff"\x01'"é" "$F/hello"
run 0 ctl n1 --json ls v1:/bytes
/usr/bin/python3 -c '
import json, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))  # strict: valid UTF-8
got = d[0]["name"].encode("utf-8", "surrogateescape")
want = b"a\xff\x22\x01" + "é".encode()
sys.exit(0 if got == want else f"name {got!r}, want {want!r}")' "$OUT" ||
  fail "--json ls of a non-UTF-8 name: $(cat "$OUT")"
run 0 ctl n1 rm "v1:/bytes/"$'a\xff"\x01'"é"
run 0 ctl n1 rm v1:/bytes

run 0 ctl n1 put v1:/tmp/gone "$F/hello"
run 0 ctl n1 rm v1:/tmp/gone
run 1 ctl n1 cat v1:/tmp/gone
err1 'No such file'
run 0 ctl n1 rm v1:/tmp # now empty
run 1 ctl n1 ls v1:/tmp
run 1 ctl n1 rm v1:/a # not empty
err1 'v1:/a: Directory not empty'
run 0 ctl n1 cat v1:/a/b/c/d/big.bin
cmp -s "$OUT" "$F/big" || fail "failed rm damaged the tree"
run 1 ctl n1 rm v1:/tmp
err1 'No such file'
run 1 ctl n1 rm v1:/
pass "ls (dir, file, --json), rm (file, empty dir; non-empty dir fails)"

# ---- history ---------------------------------------------------------------------------
printf 'first version\n' >"$F/h1"
printf 'second version, longer\n' >"$F/h2"
printf '3rd\n' >"$F/h3"
for i in 1 2 3; do run 0 ctl n1 put v1:/docs/hist "$F/h$i"; done
run 0 ctl n1 --json history v1:/docs/hist
/usr/bin/python3 - "$OUT" 14 23 4 <<'EOF' || fail "history: $(cat "$OUT")"
import json, sys
d = json.load(open(sys.argv[1]))
puts = [int(x) for x in sys.argv[2:]]
sizes = [v["size"] for v in d]
dots = [v["seq"] for v in d]
times = [v["time_ms"] for v in d]
assert len(d) >= len(puts), "fewer versions than puts"
assert dots == sorted(dots, reverse=True) and len(set(dots)) == len(dots), "not newest first"
assert times == sorted(times, reverse=True), "times not newest first"
assert sizes[0] == puts[-1], "newest size %d != last put" % sizes[0]
assert sizes[-1] == 0, "oldest version is not the empty created file"
it = iter(sizes)  # the puts' sizes, newest first, are a subsequence
assert all(any(s == p for s in it) for p in reversed(puts)), "put sizes missing: %r" % sizes
# hlc is above 2^53: a string of digits, so that jq and JavaScript keep it
assert all(isinstance(v["hlc"], str) and v["hlc"].isdigit() for v in d), "hlc not a string"
EOF
run 0 ctl n1 history v1:/docs/hist
head -1 "$OUT" | grep -q '^TIME (UTC) ' || fail "history header: $(head -1 "$OUT")"
want_eq "history text newest size" "$(awk 'NR == 2 { print $4 }' "$OUT")" 4
run 1 ctl n1 history v1:/docs/never
err1 'No such file'
pass "history: newest first, sizes match the puts"

# ---- snapshots and --at ---------------------------------------------------------------
printf 'old contents\n' >"$F/old"
printf 'new contents, changed after the snapshot\n' >"$F/new"
run 0 ctl n1 put v1:/snap/f "$F/old"
run 0 ctl n1 put v1:/snap/removed "$F/hello"
t0=$(now_ms)
run 0 ctl n1 snapshot create v1 s1
t1=$(now_ms)
run 1 ctl n1 snapshot create v1 s1
err1 'File exists'
run 1 ctl n1 snapshot create no-volume s1
err1 'No such file'
run 0 ctl n1 put v1:/snap/f "$F/new"
run 0 ctl n1 rm v1:/snap/removed
run 0 ctl n1 put v1:/snap/added "$F/hello"
run 0 ctl n1 snapshot create v1 s2
run 0 ctl n1 --json snapshot list v1
want_eq "snapshots" "$(pyj '[s["name"] for s in d]')" '["s1", "s2"]'
want_eq "snapshot hlc strings" "$(pyj 'all(isinstance(s["hlc"], str) and s["hlc"].isdigit() for s in d)')" true
s1_ms=$(pyj 'd[0]["time_ms"]')
(( t0 <= s1_ms && s1_ms <= t1 )) || fail "s1 time $s1_ms not within [$t0, $t1]"
run 0 ctl n1 snapshot list v1
grep -Eq '^s1 +[0-9]{4}-' "$OUT" || fail "snapshot list text: $(cat "$OUT")"
run 0 ctl n1 --json snapshot list v2
want_eq "no snapshots on v2" "$(cat "$OUT")" "[]"
run 1 ctl n1 snapshot list no-volume
err1 'No such file'

run 0 ctl n1 cat --at s1 v1:/snap/f
cmp -s "$OUT" "$F/old" || fail "cat --at s1 shows '$(cat "$OUT")'"
run 0 ctl n1 cat v1:/snap/f
cmp -s "$OUT" "$F/new" || fail "cat now shows '$(cat "$OUT")'"
run 0 ctl n1 cat v1:/snap/removed --at s1
cmp -s "$OUT" "$F/hello" || fail "removed file not readable at s1"
run 1 ctl n1 cat --at s1 v1:/snap/added
err1 'No such file'
run 0 ctl n1 --json ls --at s1 v1:/snap
want_eq "ls --at s1" "$(pyj '[(e["name"], e["size"]) for e in d]')" '[["f", 13], ["removed", 13]]'
run 0 ctl n1 --json ls --at s2 v1:/snap
want_eq "ls --at s2" "$(pyj '[(e["name"], e["size"]) for e in d]')" '[["added", 13], ["f", 41]]'
run 0 ctl n1 --json ls v1:/snap
want_eq "ls now" "$(pyj '[e["name"] for e in d]')" '["added", "f"]'
run 1 ctl n1 cat --at no-such-snapshot v1:/snap/f
err1 'No such file'

# as of a time: ms captured between two puts
printf 'before the mark\n' >"$F/t1"
printf 'after the mark\n' >"$F/t2"
run 0 ctl n1 put v1:/timed "$F/t1"
sleep 0.05
tm=$(now_ms)
sleep 0.05
run 0 ctl n1 put v1:/timed "$F/t2"
run 0 ctl n1 cat --at "$tm" v1:/timed
cmp -s "$OUT" "$F/t1" || fail "cat --at $tm shows '$(cat "$OUT")'"
run 0 ctl n1 cat v1:/timed
cmp -s "$OUT" "$F/t2" || fail "cat now shows '$(cat "$OUT")'"
run 0 ctl n1 cat --at "$t0" v1:/snap/f # the ms just before s1
cmp -s "$OUT" "$F/old" || fail "cat --at $t0 (before s1) shows '$(cat "$OUT")'"
run 1 ctl n1 cat --at @1 v1:/timed # 1970: nothing existed
err1 'No such file'
run 0 ctl n1 --json ls --at "$tm" v1:/
want_eq "ls --at time" "$(pyj '[e["name"] for e in d]')" '["a", "docs", "hello", "snap", "timed"]'
run 0 ctl n1 --json ls --at "$t0" v1:/
want_eq "ls --at before timed" "$(pyj '[e["name"] for e in d]')" '["a", "docs", "hello", "snap"]'
pass "snapshot create/list (duplicate fails), cat/ls --at SNAPSHOT and --at TIME(ms)"

# a time to the second means the end of that second, as the mount's asof=
# reads it (client/at.c): a put done within second S shows, one after it not
run 0 ctl n1 put v1:/timed "$F/t1"
S=$(date +%s) # the put above was stamped before second S ended
/usr/bin/python3 -c "import time; time.sleep(max(0, $S + 1.05 - time.time()))"
run 0 ctl n1 put v1:/timed "$F/t2"
for at in "@$S" "$(date -u -d "@$S" +%Y-%m-%dT%H:%M:%SZ)" "$(date -u -d "@$S" '+%Y-%m-%d %H:%M:%S')"; do
  run 0 ctl n1 cat --at "$at" v1:/timed
  cmp -s "$OUT" "$F/t1" || fail "cat --at '$at' shows '$(cat "$OUT")', want the put of second $S"
done
run 0 ctl n1 cat --at "$(date -u -d "@$((S + 1))" +%Y-%m-%dT%H:%M:%S).999Z" v1:/timed
cmp -s "$OUT" "$F/t2" || fail "cat --at the end of second $((S + 1)) shows '$(cat "$OUT")'"
pass "--at @SECONDS and ISO-8601 to the second: the end of that second"

# ---- conflicts, repl ------------------------------------------------------------------
run 0 ctl n1 conflicts list v1
grep -q '^PATH ' "$OUT" || fail "conflicts list header: $(cat "$OUT")"
run 0 ctl n1 --json conflicts list v1
want_eq "conflicts" "$(pyj 'd')" "[]"
run 1 ctl n1 conflicts list no-volume
err1 'No such file'
run 0 ctl n1 repl status
grep -q '^PEER ' "$OUT" || fail "repl status header: $(cat "$OUT")"
run 0 ctl n1 --json repl status
want_eq "repl" "$(pyj 'd')" "[]"
pass "conflicts list and repl status answer"

# ---- everything read back after a restart and after reindex -------------------------
# dump FILE: every observable of the volumes into FILE.
dump() {
  local f=$1 p
  {
    run 0 ctl n1 --json volume list
    pyj 'sorted((v["name"], v["id"], v["durability"], v["chunks"], v["capacity"], v["used"]) for v in d)'
    run 0 ctl n1 --json chunk list
    pyj 'sorted((c["id"], c["number"], c["capacity"], c["used"], c["volume"]) for c in d)'
    for p in v1 v2 v3; do run 0 ctl n1 --json snapshot list $p; cat "$OUT"; done
    for p in / /a /a/b /a/b/c /a/b/c/d /docs /snap; do
      run 0 ctl n1 --json ls "v1:$p"
      echo "ls $p"; cat "$OUT"
      run 0 ctl n1 --json ls --at s1 "v1:$p"
      echo "ls@s1 $p"; cat "$OUT"
    done
    for p in /hello /docs/stdin.txt /docs/dash.txt /a/b/c/d/big.bin /a/empty /docs/over \
      /docs/hist /snap/f /snap/added /timed; do
      run 0 ctl n1 cat "v1:$p"
      echo "cat $p $(sha256sum <"$OUT")"
      run 0 ctl n1 --json history "v1:$p"
      echo "history $p"; cat "$OUT"
    done
    for p in /snap/f /snap/removed /hello; do
      run 0 ctl n1 cat --at s1 "v1:$p"
      echo "cat@s1 $p $(sha256sum <"$OUT")"
    done
    run 0 ctl n1 cat --at "$tm" v1:/timed
    echo "cat@$tm /timed $(sha256sum <"$OUT")"
    run 0 ctl n1 --json ls v2:/
    cat "$OUT"
  } >"$f"
}
dump "$T_TMP/dump.0"
cmp -s <(grep '^cat /a/b/c/d/big.bin ' "$T_TMP/dump.0" | awk '{ print $3 }') \
  <(sha256sum <"$F/big" | awk '{ print $1 }') || fail "dump does not hold the big file"

node_kill n1 TERM
grep -q 'stopped cleanly' "$N1_DIR/cairnd.log" || fail "no 'stopped cleanly' in the log"
node_start n1
dump "$T_TMP/dump.1"
diff "$T_TMP/dump.0" "$T_TMP/dump.1" >"$T_TMP/diff" || fail "state differs after restart: $(head -20 "$T_TMP/diff")"
run 0 ctl n1 --json node status
want_eq "node id after restart" "$(pyj 'd["node_id"]')" "$node_id"
want_eq "chunks after restart" "$(pyj 'd["chunks"]')" 4
want_eq "volumes after restart" "$(pyj 'd["volumes"]')" 3
want_eq "index_rebuilt after a clean restart" "$(pyj 'd["index_rebuilt"]')" ""
pass "after a restart: contents, listings, snapshots, history identical"

run 0 ctl n1 node reindex
grep -q 'reindexed' "$ERR" || fail "node reindex: $(cat "$ERR")"
dump "$T_TMP/dump.2"
diff "$T_TMP/dump.0" "$T_TMP/dump.2" >"$T_TMP/diff" || fail "state differs after reindex: $(head -20 "$T_TMP/diff")"
run 0 ctl n1 --json node status
want_eq "checksum errors" "$(pyj 'd["checksum_errors"]')" 0
pass "after node reindex: everything identical"

# writes continue after restart + reindex, and survive another restart
printf 'written after reindex\n' >"$F/late"
run 0 ctl n1 put v1:/docs/late "$F/late"
run 0 ctl n1 snapshot create v1 s3
node_kill n1 TERM
node_start n1
run 0 ctl n1 cat v1:/docs/late
cmp -s "$OUT" "$F/late" || fail "write after reindex lost"
run 0 ctl n1 --json snapshot list v1
want_eq "snapshots" "$(pyj '[s["name"] for s in d]')" '["s1", "s2", "s3"]'
! grep -E '^[0-9T:.-]+Z E ' "$N1_DIR/cairnd.log" || fail "errors in the log"
pass "writes after reindex survive a restart; no errors logged"

# an index deleted while the node was stopped: the start rebuilds it and says why
dump "$T_TMP/dump.3"
node_kill n1 TERM
rm -rf "$N1_DIR/data/index"
node_start n1
run 0 ctl n1 node status
grep -Eq "^index +ok \(rebuilt at start from the chunk logs: there was none\)$" "$OUT" ||
  fail "node status after the index was deleted: $(grep '^index' "$OUT")"
run 0 ctl n1 --json node status
want_eq "index_rebuilt after the index was deleted" "$(pyj 'd["index_rebuilt"]')" missing
dump "$T_TMP/dump.4"
diff "$T_TMP/dump.3" "$T_TMP/dump.4" >"$T_TMP/diff" ||
  fail "state differs after the index was rebuilt at start: $(head -20 "$T_TMP/diff")"
pass "an index deleted while stopped: rebuilt at start, node status says so, the same contents"
# ---- races, option forms, sizes, addresses -------------------------------------
# Eight puts of different lengths to one new path at once: each succeeds (the
# losers of the create store over the winner's file), and what is left is as
# long as one of them and made of their bytes (puts of one path are not
# serialised: like two cp's to one file, their bytes may mix).
for i in 1 2 3 4 5 6 7 8; do
  head -c $((i * 1000)) /dev/zero | tr '\0' "$i" >"$F/race$i"
done
pids=()
for i in 1 2 3 4 5 6 7 8; do
  ctl n1 put v1:/race/f "$F/race$i" >"$T_TMP/race$i.out" 2>&1 &
  pids+=("$!")
done
for i in 1 2 3 4 5 6 7 8; do
  wait "${pids[$((i - 1))]}" || fail "concurrent put $i of one new path failed: $(cat "$T_TMP/race$i.out")"
done
run 0 ctl n1 cat v1:/race/f
got=$(wc -c <"$OUT")
(( got % 1000 == 0 && got >= 1000 && got <= 8000 )) ||
  fail "after concurrent puts v1:/race/f has $got bytes: no put's length"
[[ -z $(tr -d '1-8' <"$OUT") ]] || fail "after concurrent puts v1:/race/f has bytes no put wrote"
pass "8 concurrent puts of one new path: all succeed"

# --server=ADDR and --timeout=SECONDS may follow the command too
run 0 "$CAIRNCTL" --server unix:/nonexistent/s.sock volume list --server="unix:$N1_SOCK" --timeout=5
grep -q '^v1 ' "$OUT" || fail "volume list with --server= after the command: $(cat "$OUT")"
run 2 ctl n1 volume list --timeout=abc
err1 'timeout'
echo kept >"$F/--timeout=5"
(cd "$F" && run 0 ctl n1 put v1:/opt/t --timeout=5 -- --timeout=5)
run 0 ctl n1 cat v1:/opt/t
cmp -s "$OUT" "$F/--timeout=5" || fail "put --timeout=5 -- --timeout=5 did not store the local file"
pass "--server= and --timeout= after the command; -- still ends them"

# chunk sizes read as cairnd reads them; a sign, even after a space, is usage
run 0 ctl n1 --json chunk create --size 4194304B
want_eq "chunk of 4194304B" "$(pyj 'd[0]["capacity"]')" 4194304
for s in ' -5' '-5' '0' '4X'; do
  run 2 ctl n1 chunk create --size "$s"
  err1 'is not a size'
done
pass "chunk create --size: cairnd's forms (4194304B); signs, 0 and garbage are usage errors"

# the unix:///ABSOLUTE form works too
run 0 "$CAIRNCTL" --server "unix://$N1_SOCK" volume list
grep -q '^v1 ' "$OUT" || fail "volume list over unix://$N1_SOCK: $(cat "$OUT")"
# a unix socket path longer than the kernel takes: one line, at once
run 1 "$CAIRNCTL" --server "unix:/tmp/$(printf 'x%.0s' {1..120})" volume list
err1 'too long'
pass "a unix socket path too long for the kernel: one line"

(( ${#DEFECTS[@]} == 0 )) || fail "${#DEFECTS[@]} defect(s): $(printf '%s; ' "${DEFECTS[@]}")"
