#!/usr/bin/env bash
# Builds wrt as a distribution packager would (CMAKE_BUILD_TYPE=Release, no
# tests) into build-release/. Packagers leave WRT_WERROR off; CI turns it on
# so that a warning that only -O3 raises is fixed, not shipped.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-release"
bash "$root/scripts/setup.sh" >&2
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=1  # share objects with other clones (scripts/build.sh)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWRT_BUILD_TESTS=OFF -DWRT_WERROR="${WRT_WERROR:-ON}" >&2
cmake --build "$build" -j "$(nproc)" >&2
echo "$build"
