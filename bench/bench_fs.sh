#!/usr/bin/env bash
# bench/bench_fs.sh — the file-system benchmark: the same workloads, in one
# run, on (a) a local directory, (b) libfuse's passthrough_ll example (the
# FUSE floor: compiled here from Debian's libfuse3-dev examples, mounted with
# its defaults and -o source=DIR), (c) a cairn mount (a cairnd started here,
# a volume, cairn-fuse with its defaults) and (d) a second mount of the same
# volume with -o writeback_cache, working in its own directory. All live on
# the filesystem of DIR, so they share the disk and the page cache.
#
#   bench/bench_fs.sh DIR [--size BYTES] [--only seq|rand|small]
#
# Environment: CAIRN_BUILD, the build directory holding bench/bench_fsio,
# daemon/cairnd, client/cairnctl and fsadapter/cairn-fuse (bench/run.sh sets
# it and builds them: target bench_fs_tools). Needs root: it mounts, and it
# drops the page cache (echo 3 > /proc/sys/vm/drop_caches) before the
# sequential read and before each metadata read phase.
#
# Output: one line per figure and baseline, "NAME cairn=X baseline=Y unit=U
# ratio=R" (R = cairn/baseline, higher is better), three times per workload:
# NAME against passthrough_ll, NAME_local against the local directory, and
# NAME_wb (the writeback_cache mount) against passthrough_ll, plus '#'
# comment lines with every run. Workloads (bench_fsio does the timing):
#   fs_seq_write   SIZE bytes in 1 MiB writes + fsync (file creation included)
#   fs_seq_read    that file read back in 1 MiB reads, after dropping caches
#   fs_rand_write  20,000 aligned 4 KiB pwrites at random offsets of a
#                  256 MiB file (written and fsynced first, untimed),
#                  fdatasync every 64 writes
#   fs_create      10,000 files of 4 KiB in 100 directories (open O_EXCL,
#                  write, close; directory creation included; no sync)
#   fs_stat        lstat of every file by path, after dropping caches
#   fs_readdir     listing of the 100 directories and their parent, after
#                  dropping caches
#   fs_delete      unlink of every file and rmdir of every directory, after
#                  dropping caches
#
# Invariants:
# (1) a benchmark never fails on speed: the exit status is non-zero only when
#     an operation fails (a step, a mount, the daemon);
# (2) every workload runs once untimed on every target first (warm-up, at a
#     reduced size), then RUNS times per target in rotating target order;
#     the figures are medians;
# (3) right before each timed step bench_fsio pre-touches as many page-cache
#     pages as the step will use (the VM's free page reporting, see
#     bench_util.h): SIZE for the local directory, 2*SIZE through FUSE (the
#     mount's page cache plus the backing file's or the chunk's);
# (4) no timed step starts with another step's dirty data: each is preceded
#     by sync (and, where stated, by dropping caches);
# (5) everything mounted or started here is unmounted and stopped on exit,
#     whatever the exit path (trap), with bounded waits.
set -euo pipefail

usage() {
  echo "usage: bench/bench_fs.sh DIR [--size BYTES] [--only seq|rand|small]" >&2
  exit 2
}

[[ $# -ge 1 && $1 != -* ]] || usage
dir=$1
shift
size=1G
only=""
while [[ $# -gt 0 ]]; do
  case $1 in
  --size) [[ $# -ge 2 ]] || usage; size=$2; shift 2 ;;
  --only) [[ $# -ge 2 ]] || usage; only=$2; shift 2 ;;
  *) usage ;;
  esac
done
case $only in "" | seq | rand | small) ;; *) usage ;; esac
# SIZE in bytes (K, M, G binary suffixes), at least 8 MiB.
bytes=$(numfmt --from=iec "${size%B}") || usage
((bytes >= 8 * 1048576)) || usage

RUNS=3
RAND_FILE=$((256 * 1048576))
RAND_WRITES=20000
RAND_WARM=2000
RAND_SYNC=64
SMALL_DIRS=100
SMALL_FILES=10000
SMALL_WARM=1000
SLACK=$((64 * 1048576))

build=${CAIRN_BUILD:?set CAIRN_BUILD to the build directory (bench/run.sh does)}
fsio=$build/bench/bench_fsio
cairnd=$build/daemon/cairnd
ctl=$build/client/cairnctl
cfuse=$build/fsadapter/cairn-fuse
pt_src_c=/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c
for f in "$fsio" "$cairnd" "$ctl" "$cfuse"; do
  [[ -x $f ]] || { echo "bench_fs: $f is missing (build target bench_fs_tools)" >&2; exit 1; }
done
[[ -f $pt_src_c ]] || { echo "bench_fs: $pt_src_c is missing (apt install libfuse3-dev)" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "bench_fs: needs root (FUSE mounts, drop_caches)" >&2; exit 1; }

mkdir -p "$dir"
work=$(cd "$dir" && pwd)
local_dir=$work/local
pt_bin=$work/passthrough_ll
pt_src=$work/pt-src
pt_mnt=$work/pt-mnt
cn_dir=$work/cairnd
cn_sock=$cn_dir/cairnd.sock
cn_mnt=$work/cairn-mnt
wb_mnt=$work/cairn-wb-mnt
mkdir -p "$local_dir" "$pt_src" "$pt_mnt" "$cn_dir" "$cn_mnt" "$wb_mnt"

# ---- start and stop (5) ----

MOUNTS=()
FUSE_PIDS=()
CAIRND_PID=""

# wait_gone PID SECONDS: 0 once PID has exited, 1 after SECONDS.
wait_gone() {
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.05
  done
  return 1
}

cleanup() {
  local m p rc=$?
  set +e
  for m in "${MOUNTS[@]}"; do
    if mountpoint -q "$m"; then
      timeout 20 fusermount3 -u "$m" 2>/dev/null || timeout 20 umount -l "$m" 2>/dev/null ||
        echo "bench_fs: could not unmount $m" >&2
    fi
  done
  for p in "${FUSE_PIDS[@]}"; do
    wait_gone "$p" 10 || kill -KILL "$p" 2>/dev/null
  done
  if [[ -n $CAIRND_PID ]]; then
    kill -TERM "$CAIRND_PID" 2>/dev/null
    wait_gone "$CAIRND_PID" 30 || kill -KILL "$CAIRND_PID" 2>/dev/null
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_mounted MNT PID LOG: bounded (20 s) wait for a FUSE mount to appear.
wait_mounted() {
  local i
  for ((i = 0; i < 400; i++)); do
    mountpoint -q "$1" && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; echo "bench_fs: mounting $1 failed" >&2; exit 1; }
    sleep 0.05
  done
  cat "$3" >&2
  echo "bench_fs: $1 not mounted after 20 s" >&2
  exit 1
}

start_passthrough() {
  local flags
  read -ra flags <<<"$(pkg-config --cflags --libs fuse3)"
  gcc -O2 -o "$pt_bin" "$pt_src_c" "${flags[@]}" >"$work/pt-build.log" 2>&1 ||
    { cat "$work/pt-build.log" >&2; exit 1; }
  "$pt_bin" -f -o source="$pt_src" "$pt_mnt" >"$work/pt.log" 2>&1 &
  FUSE_PIDS+=("$!")
  MOUNTS+=("$pt_mnt")
  wait_mounted "$pt_mnt" "$!" "$work/pt.log"
}

cctl() { "$ctl" --server "unix:$cn_sock" "$@"; }

start_cairn() {
  cat >"$cn_dir/cairnd.conf" <<EOF
[node]
name = bench
data_dir = $cn_dir/data
socket = $cn_sock
listen = 127.0.0.1:0
metrics_listen = none
[log]
level = warn
EOF
  "$cairnd" -c "$cn_dir/cairnd.conf" >"$cn_dir/cairnd.log" 2>&1 &
  CAIRND_PID=$!
  local i ok=0
  for ((i = 0; i < 400; i++)); do
    if cctl node status >/dev/null 2>&1; then ok=1; break; fi
    kill -0 "$CAIRND_PID" 2>/dev/null || break
    sleep 0.05
  done
  [[ $ok -eq 1 ]] || { cat "$cn_dir/cairnd.log" >&2; echo "bench_fs: cairnd did not start" >&2; exit 1; }
  # Room for every byte the run writes: cairn has no reclaim yet, so deleted
  # files keep their chunk space (about 3.5 * SIZE + 0.5 GiB per cairn target).
  local chunk=$((2 * bytes + RAND_FILE)) id ids
  cctl volume create bench >/dev/null
  ids=$(cctl --json chunk create --count 5 --size "$chunk" |
    /usr/bin/python3 -c 'import json,sys; print(" ".join(c["id"] for c in json.load(sys.stdin)))')
  for id in $ids; do cctl chunk assign "$id" bench >/dev/null; done
  "$cfuse" --server "unix:$cn_sock" bench "$cn_mnt" -f >"$work/cairn-fuse.log" 2>&1 &
  FUSE_PIDS+=("$!")
  MOUNTS+=("$cn_mnt")
  wait_mounted "$cn_mnt" "$!" "$work/cairn-fuse.log"
  "$cfuse" --server "unix:$cn_sock" bench "$wb_mnt" -f -o writeback_cache \
    >"$work/cairn-wb.log" 2>&1 &
  FUSE_PIDS+=("$!")
  MOUNTS+=("$wb_mnt")
  wait_mounted "$wb_mnt" "$!" "$work/cairn-wb.log"
  mkdir "$cn_mnt/default" "$wb_mnt/wb"
}

# ---- steps ----

TARGETS=(local passthrough cairn cairn_wb)
declare -A ROOT=([local]=$local_dir [passthrough]=$pt_mnt [cairn]=$cn_mnt/default
  [cairn_wb]=$wb_mnt/wb)

drop_caches() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
}

# The targets in the rotating order of run $1 (2).
order() {
  local r=$1 i
  local n=${#TARGETS[@]}
  for ((i = 0; i < n; i++)); do echo "${TARGETS[(i + r) % n]}"; done
}

# step TARGET PREFAULT_BYTES STEP ARGS...: runs bench_fsio; prints the rate.
step() {
  local out
  out=$("$fsio" -p "$work" -P "$2" "${@:3}")
  echo "${out%% *}"
}

# Pages one step on TARGET puts in the page cache for DATA bytes (3).
pf() {
  if [[ $1 == local ]]; then echo $(($2 + SLACK)); else echo $((2 * $2 + SLACK)); fi
}

declare -A RES=()
add() { RES[$1,$2]="${RES[$1,$2]:-}${RES[$1,$2]:+ }$3"; }

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# report NAME UNIT WHAT: the '#' line with every run and the three figure lines.
report() {
  local name=$1 unit=$2 what=$3 t
  declare -A m=()
  local runs=""
  for t in "${TARGETS[@]}"; do
    # shellcheck disable=SC2086
    m[$t]=$(median ${RES[$name,$t]})
    runs+="${runs:+, }$t ${RES[$name,$t]}"
  done
  echo "# $name: $what; runs ($unit) $runs (rotating order); medians"
  awk -v n="$name" -v u="$unit" -v c="${m[cairn]}" -v p="${m[passthrough]}" -v l="${m[local]}" \
    -v w="${m[cairn_wb]}" \
    'BEGIN {
       f = (u == "MB/s") ? "%.1f" : "%.0f"
       printf "%s cairn=" f " baseline=" f " unit=%s ratio=%.2f\n", n, c, p, u, c / p
       printf "%s_local cairn=" f " baseline=" f " unit=%s ratio=%.2f\n", n, c, l, u, c / l
       printf "%s_wb cairn=" f " baseline=" f " unit=%s ratio=%.2f\n", n, w, p, u, w / p
     }'
}

# ---- workloads ----

bench_seq() {
  local warm=$((bytes / 4)) t r f
  for t in "${TARGETS[@]}"; do # (2)
    f=${ROOT[$t]}/seq-warm
    sync
    step "$t" "$(pf "$t" "$warm")" seqwrite "$f" "$warm" >/dev/null
    drop_caches
    step "$t" "$(pf "$t" "$warm")" seqread "$f" >/dev/null
    rm -f "$f"
  done
  for ((r = 0; r < RUNS; r++)); do
    for t in $(order "$r"); do
      sync
      add fs_seq_write "$t" "$(step "$t" "$(pf "$t" "$bytes")" seqwrite "${ROOT[$t]}/seq" "$bytes")"
    done
    for t in $(order "$r"); do
      drop_caches
      add fs_seq_read "$t" "$(step "$t" "$(pf "$t" "$bytes")" seqread "${ROOT[$t]}/seq")"
    done
    for t in "${TARGETS[@]}"; do rm -f "${ROOT[$t]}/seq"; done
  done
  report fs_seq_write MB/s "$bytes bytes in 1 MiB writes + fsync"
  report fs_seq_read MB/s "that file in 1 MiB reads after sync + echo 3 > drop_caches"
}

bench_rand() {
  local t r
  for t in "${TARGETS[@]}"; do # (2)
    "$fsio" fill "${ROOT[$t]}/rand" "$RAND_FILE" >/dev/null
    step "$t" 0 randwrite "${ROOT[$t]}/rand" "$RAND_WARM" "$RAND_SYNC" 7 >/dev/null
  done
  for ((r = 0; r < RUNS; r++)); do
    for t in $(order "$r"); do
      sync
      add fs_rand_write "$t" "$(step "$t" "$(pf "$t" "$RAND_FILE")" randwrite "${ROOT[$t]}/rand" \
        "$RAND_WRITES" "$RAND_SYNC" "$((r + 11))")"
    done
  done
  for t in "${TARGETS[@]}"; do rm -f "${ROOT[$t]}/rand"; done
  report fs_rand_write writes/s "$RAND_WRITES aligned 4 KiB pwrites at random offsets of a \
$((RAND_FILE >> 20)) MiB file (written + fsynced first, untimed), fdatasync every $RAND_SYNC"
}

bench_small() {
  local t r tree pfb=$((256 * 1048576))
  for t in "${TARGETS[@]}"; do # (2)
    tree=${ROOT[$t]}/warm
    sync
    step "$t" "$pfb" create "$tree" 10 "$SMALL_WARM" >/dev/null
    drop_caches
    step "$t" "$pfb" stat "$tree" 10 "$SMALL_WARM" >/dev/null
    step "$t" "$pfb" readdir "$tree" 10 "$SMALL_WARM" >/dev/null
    step "$t" "$pfb" delete "$tree" 10 "$SMALL_WARM" >/dev/null
  done
  for ((r = 0; r < RUNS; r++)); do
    for t in $(order "$r"); do
      sync
      add fs_create "$t" "$(step "$t" "$pfb" create "${ROOT[$t]}/tree" "$SMALL_DIRS" "$SMALL_FILES")"
    done
    for t in $(order "$r"); do
      drop_caches
      add fs_stat "$t" "$(step "$t" "$pfb" stat "${ROOT[$t]}/tree" "$SMALL_DIRS" "$SMALL_FILES")"
    done
    for t in $(order "$r"); do
      drop_caches
      add fs_readdir "$t" "$(step "$t" "$pfb" readdir "${ROOT[$t]}/tree" "$SMALL_DIRS" "$SMALL_FILES")"
    done
    for t in $(order "$r"); do
      drop_caches
      add fs_delete "$t" "$(step "$t" "$pfb" delete "${ROOT[$t]}/tree" "$SMALL_DIRS" "$SMALL_FILES")"
    done
  done
  sync
  report fs_create files/s "$SMALL_FILES files of 4 KiB in $SMALL_DIRS directories (open O_EXCL + \
write + close; mkdirs included; no sync)"
  report fs_stat stats/s "lstat of each file by path after sync + drop_caches"
  report fs_readdir entries/s "readdir of the $SMALL_DIRS directories and their parent after sync + \
drop_caches"
  report fs_delete files/s "unlink of each file + rmdir of each directory after sync + drop_caches"
}

# ---- main ----

t0=$(date +%s.%N)
echo "# bench_fs: dir=$work size=$bytes date=$(date -u +%Y-%m-%dT%H:%M:%SZ) kernel=$(uname -r)" \
  "fs=$(findmnt -no FSTYPE -T "$work")"
start_passthrough
start_cairn
echo "# targets: local = $local_dir; passthrough = passthrough_ll -f -o source=$pt_src (libfuse" \
  "$(pkg-config --modversion fuse3), gcc -O2, its defaults: multi-threaded, timeout=1, no" \
  "writeback cache); cairn = cairn-fuse --server unix:SOCK VOLUME MNT -f (its defaults) on a" \
  "cairnd started here (config: data_dir, socket, listen 127.0.0.1:0, metrics_listen none);" \
  "cairn_wb = the same with -o writeback_cache, a second mount of the same volume"
echo "# baseline= is passthrough_ll for NAME and the local directory for NAME_local; ratio =" \
  "cairn/baseline, higher is better; caches dropped with echo 3 > /proc/sys/vm/drop_caches"

[[ -z $only || $only == seq ]] && bench_seq
[[ -z $only || $only == rand ]] && bench_rand
[[ -z $only || $only == small ]] && bench_small
echo "# total run time: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s"
