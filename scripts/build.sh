#!/usr/bin/env bash
# Configures and builds wrt into build/ (or build-asan/ with --sanitize).
# Build output goes to stderr; the last line on stdout is the build directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build"; extra=()
if [ "${1:-}" = "--sanitize" ]; then build="$root/build-asan"; extra=(-DWRT_SANITIZE=ON); fi
bash "$root/scripts/setup.sh" >&2
# Paths relative to the checkout in ccache's hash: another clone (a CI run)
# reuses the objects compiled here.
export CCACHE_BASEDIR="$root"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWRT_WERROR=ON "${extra[@]}" >&2
cmake --build "$build" -j "$(nproc)" >&2
echo "$build"
