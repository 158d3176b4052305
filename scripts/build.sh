#!/usr/bin/env bash
# Configures and builds wrt into build/ (or build-asan/ with --sanitize).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build"; extra=()
if [ "${1:-}" = "--sanitize" ]; then build="$root/build-asan"; extra=(-DWRT_SANITIZE=ON); fi
bash "$root/scripts/setup.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${extra[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)"
echo "$build"
