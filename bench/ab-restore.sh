#!/usr/bin/env bash
# The fresh-checkout restores of issue 16, all in tmpfs (no disk noise), for
# binaries alternating round by round:
#
#   N=10000 ROUNDS=3 bash bench/ab-restore.sh BIN_A [BIN_B ...]   (absolute paths)
#
# One full run (the first binary, uploading to a real nginx on loopback)
# warms a local cache and the remote; then, each round and for each binary,
# a fresh checkout restores every stage from the warm local cache, and
# another, with an empty local cache, from the remote. Prints wall seconds,
# the CPU the run used (user+sys, from /usr/bin/time) and remote/local.
# Binaries must read the same cache format (key schema). Workspace:
# /dev/shm/abrs (wiped).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
N=${N:-10000}; ROUNDS=${ROUNDS:-3}
W=/dev/shm/abrs
source "$BENCH_DIR/ab-common.sh"
cp -a $W/src $W/warm
(cd $W/warm && WRT_REMOTE_CACHE_KEY=$W/keys/ci.pem "$1" run -j2 >$W/warm.log 2>&1) || { echo "warm-up failed" >&2; tail $W/warm.log >&2; exit 1; }
# timed SRC BIN ARGS...: "wall cpu" of `BIN run -j2 ARGS` in a fresh copy of SRC
timed() {
  local src=$1 bin=$2; shift 2
  rm -rf $W/run; cp -a $src $W/run; sync; sleep 1
  (cd $W/run && /usr/bin/time -f '%e %U %S' -o $W/time "$bin" run -j2 "$@" >$W/log 2>&1) || { echo "run failed" >&2; tail $W/log >&2; exit 1; }
  read -r e u s <$W/time
  python3 -c "print(f'{$e:.2f} {$u + $s:.2f}')"
}
# PERF=FILE: instead of rounds, one remote restore of the first binary under
# `perf record --call-graph dwarf` into FILE.
if [[ -n ${PERF:-} ]]; then
  rm -rf $W/run; cp -a $W/src $W/run
  (cd $W/run && perf record -q -F 499 --call-graph dwarf -o "$PERF" "$1" run -j2 >$W/log 2>&1)
  exit 0
fi
for r in $(seq $ROUNDS); do
  for bin in "$@"; do
    read -r le lc < <(timed $W/src-plain "$bin" --cache-dir $W/warm/.wrt/cache)
    read -r re rc < <(timed $W/src "$bin")
    grep -q "remote cache .*: $N hits, 0 misses" $W/log || { echo "the remote restore did not serve every stage" >&2; exit 1; }
    echo "$bin local $le s (cpu $lc) remote $re s (cpu $rc) ratio $(python3 -c "print(f'{$re/$le:.2f}')")"
  done
done
