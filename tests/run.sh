#!/usr/bin/env bash
# The one test command: installs what is needed (Debian 12, as root), builds
# with warnings as errors, and runs every test with ctest. Its last line is
# ctest's summary.
#
#   tests/run.sh            build in build/ and run all tests except "slow"
#   tests/run.sh --asan     the same with AddressSanitizer + UBSan (build-asan/)
#   tests/run.sh --all      include tests labelled "slow" (soak, long fault runs)
#   CTEST_ARGS="-R model" tests/run.sh   pass extra arguments to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

asan=OFF
build=build
exclude=(-LE slow)
for arg in "$@"; do
  case "$arg" in
    --asan) asan=ON; build=build-asan ;;
    --all) exclude=() ;;
    *) echo "usage: tests/run.sh [--asan] [--all]" >&2; exit 2 ;;
  esac
done

deploy/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAIRN_WERROR=ON \
  -DCAIRN_SANITIZE="$asan" -DCAIRN_FAULT=ON >/dev/null
cmake --build "$build" -j "$jobs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
# shellcheck disable=SC2086
exec ctest --output-on-failure -j "$jobs" "${exclude[@]}" ${CTEST_ARGS:-}
