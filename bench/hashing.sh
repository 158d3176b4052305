#!/usr/bin/env bash
# First-run hashing of large new inputs (issue 17): one stage whose inputs
# are COUNT files of SIZE_MIB MiB each (default 16 x 128 MiB = 2 GiB), all
# new to wrt, against the floor -- OpenSSL's SHA-256 over the same files in
# one process and in two (xargs -P 2). Every run reads from the page cache
# (the files were just written and fit in memory), so this is hashing, not
# disk. wrt's time is the whole `wrt run` (hashing the inputs, running
# `true`, storing nothing but the log).
#
#   bash bench/hashing.sh [COUNT] [SIZE_MIB] [ROUNDS]
#
# Environment: BENCH_BUILD (default build-bench, Release), BENCH_SKIP_BUILD=1,
# BENCH_WORK (default bench/work-hashing, wiped).
set -euo pipefail
COUNT=${1:-16}
SIZE=${2:-128}
ROUNDS=${3:-3}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
BUILD=${BENCH_BUILD:-$REPO/build-bench}
WORK=${BENCH_WORK:-$BENCH_DIR/work-hashing}
WRT=$BUILD/wrt
die() { echo "bench: $*" >&2; exit 1; }
if [[ -z ${BENCH_SKIP_BUILD:-} ]]; then
  cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWRT_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS= >/dev/null
  cmake --build "$BUILD" -j2 --target wrt wrt-plugin-command >/dev/null
fi
[[ -x $WRT ]] || die "no wrt binary at $WRT"
rm -rf "$WORK" && mkdir -p "$WORK/ws/data"
for i in $(seq "$COUNT"); do
  head -c "$((SIZE << 20))" /dev/urandom >"$WORK/ws/data/in$i.bin"
done
cat >"$WORK/ws/wrt.toml" <<'TOML'
[stages.consume]
inputs = ["data/*.bin"]
with = { run = "true" }
TOML
cd "$WORK/ws"
now() { date +%s.%N; }
best() { python3 -c "import sys; print(f'{min(map(float, sys.argv[1:])):.3f}')" "$@"; }
w=(); o1=(); o2=()
for _ in $(seq "$ROUNDS"); do
  rm -rf .wrt  # every file new to wrt: no stat cache, no cache entry
  t0=$(now); "$WRT" run -j 2 >/dev/null; t1=$(now)
  w+=("$(python3 -c "print($t1 - $t0)")")
  t0=$(now); openssl dgst -sha256 data/*.bin >/dev/null; t1=$(now)
  o1+=("$(python3 -c "print($t1 - $t0)")")
  t0=$(now); printf '%s\n' data/*.bin | xargs -P 2 -n "$(((COUNT + 1) / 2))" openssl dgst -sha256 >/dev/null; t1=$(now)
  o2+=("$(python3 -c "print($t1 - $t0)")")
done
W=$(best "${w[@]}"); O1=$(best "${o1[@]}"); O2=$(best "${o2[@]}")
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
cat <<TABLE
| $COUNT x $SIZE MiB new inputs, best of $ROUNDS | seconds | wrt / this |
|---|---|---|
| wrt run (first run, -j 2) | $W | |
| openssl dgst -sha256, 1 process | $O1 | $(ratio "$W" "$O1") |
| openssl dgst -sha256, 2 processes | $O2 | $(ratio "$W" "$O2") (target <= 1.2) |
TABLE
