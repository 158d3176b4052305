#!/usr/bin/env bash
# Configures and builds wrt into build/ (or build-asan/ with --sanitize).
# Build output goes to stderr; the last line on stdout is the build directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build"; extra=()
if [ "${1:-}" = "--sanitize" ]; then
  # -O0 -g1: GCC compiles the sanitized build about 3x faster than at -O2 -g
  # (stage_runner.cc: 23 s against 75 s), which keeps CI well inside its hour;
  # the checks are the same, line tables still name file:line in reports.
  build="$root/build-asan"
  extra=(-DWRT_SANITIZE=ON "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O0 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O0 -g1 -DNDEBUG")
fi
bash "$root/scripts/setup.sh" >&2
# Paths relative to the checkout in ccache's hash: another clone (a CI run)
# reuses the objects compiled here.
export CCACHE_BASEDIR="$root"
# ccache puts the working directory in the hash of a -g compile unless told
# not to; without this a fresh clone (CI's) recompiles everything.
export CCACHE_NOHASHDIR=1
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWRT_WERROR=ON "${extra[@]}" >&2
cmake --build "$build" -j "$(nproc)" >&2
echo "$build"
