#!/usr/bin/env bash
# The main job: installs what is missing, builds wrt, and runs the shipped
# example pipeline twice (the second run is served from the cache).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(bash "$root/scripts/build.sh" | tail -n 1)"
example="$root/examples/hello"
rm -rf "$example/.wrt" "$example/out"
echo "== first run =="
"$build/wrt" run -C "$example" ci --report "$example/.wrt/report.json"
echo "== second run (nothing changed: every stage cached) =="
"$build/wrt" run -C "$example" ci
