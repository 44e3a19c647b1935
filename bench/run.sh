#!/usr/bin/env bash
# The one benchmark command. Builds the benchmark binaries (Release, in
# build-bench/) and runs benchmark groups; prints only the figure lines
# ("NAME cairn=X baseline=Y unit=U ratio=R") and '#' comment lines.
#
#   bench/run.sh            run every group in the table below, in order
#   bench/run.sh GROUP...   run the named groups (unknown group: usage, exit 2)
#
# Environment:
#   CAIRN_BENCH_DIR   where the scratch directory is made (default ./bench-data,
#                     on the repository's filesystem); removed after the run
#   CAIRN_BENCH_ARGS  extra arguments for every group's program (e.g. --size 256M)
#   CAIRN_BENCH_JOBS  parallel build jobs (default 1)
#
# A benchmark never fails on speed: the exit status is non-zero only when the
# build or an operation fails.
set -euo pipefail

# The groups: NAME, the bench/ target to build, and optionally the script
# (relative to the repository) that runs the group; without one the target
# itself runs it. Either is run as PROGRAM DIR [ARGS] with CAIRN_BUILD set to
# the build directory. Adding a group is one line here.
GROUPS_TABLE=(
  "engine bench_engine"
  "rpc bench_rpc"
  "fs bench_fs_tools bench/bench_fs.sh"
)

usage() {
  local names=()
  for row in "${GROUPS_TABLE[@]}"; do names+=("${row%% *}"); done
  echo "usage: bench/run.sh [GROUP...]   groups: ${names[*]}" >&2
  exit 2
}

# Prints the row of group $1 without its name: "TARGET [SCRIPT]".
target_of() {
  for row in "${GROUPS_TABLE[@]}"; do
    if [[ "${row%% *}" == "$1" ]]; then
      echo "${row#* }"
      return 0
    fi
  done
  return 1
}

# Resolve the scratch base before changing directory, so a relative
# CAIRN_BENCH_DIR means relative to where the command was given.
base=${CAIRN_BENCH_DIR:-./bench-data}
made_base=0
[[ -d "$base" ]] || made_base=1
mkdir -p "$base"
base=$(cd "$base" && pwd)
cd "$(dirname "$0")/.."
root=$PWD
build=$root/build-bench

selected=()
if [[ $# -eq 0 ]]; then
  for row in "${GROUPS_TABLE[@]}"; do selected+=("${row%% *}"); done
else
  for g in "$@"; do
    target_of "$g" >/dev/null || usage
    selected+=("$g")
  done
fi

scratch=$(mktemp -d "$base/run.XXXXXX")
buildlog=$(mktemp)
cleanup() {
  rm -rf "$scratch" "$buildlog"
  if [[ $made_base -eq 1 ]]; then rmdir "$base" 2>/dev/null || true; fi
}
trap cleanup EXIT

build_target() {
  # Configured every time (cheap): a tree made before an option changed
  # keeps its cached value otherwise. The product build: no fault points.
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCAIRN_FAULT=OFF >"$buildlog" 2>&1 ||
    { cat "$buildlog" >&2; exit 1; }
  cmake --build "$build" -j "${CAIRN_BENCH_JOBS:-1}" --target "$1" >"$buildlog" 2>&1 ||
    { cat "$buildlog" >&2; exit 1; }
}

export CAIRN_BUILD=$build
for g in "${selected[@]}"; do
  read -r target script <<<"$(target_of "$g")"
  build_target "$target"
  prog=$build/bench/$target
  [[ -n $script ]] && prog=$root/$script
  mkdir "$scratch/$g"
  # shellcheck disable=SC2086
  "$prog" "$scratch/$g" ${CAIRN_BENCH_ARGS:-}
  rm -rf "${scratch:?}/$g"
done
