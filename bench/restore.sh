#!/usr/bin/env bash
# A fresh checkout with a warm cache against copying the same outputs with
# tar (issue 17): the generated DAG (bench/gen_dag.py), 2 jobs.
#
#   bash bench/restore.sh [N]      N stages, default 10000
#
# A full run in base/ fills a cache. Then, BENCH_ROUNDS times (default 3),
# alternating, each after a settle:
#   wrt     a fresh copy of the sources runs `wrt run --cache-dir base's cache`:
#           every stage a hit, every output restored (and every input hashed:
#           a fresh checkout has no stat cache, and the key needs the content)
#   tar     `tar -C base -cf - out | tar -C copy -xf -`: the outputs alone,
#           copied -- the floor the issue sets (target: wrt within 1.5x)
#   floor   tar's copy of out/ and, at the same time, one read of every input
#           file by two `cat` processes (what a key over content must read in
#           a checkout without a stat cache), in a second fresh copy: the
#           least a content cache must do, done by the simplest tools on the
#           machine's two cores at once. (Until the 21st session the floor
#           read the inputs with one tar, then copied: a slower, sequential
#           floor that wrt itself beat.)
#   base    with BENCH_BASELINE=/path/to/an/older/wrt: the same restore by that
#           binary (before/after of a change, measured in the same rounds)
# Each wrt round also runs with WRT_PHASE_TIMES=1 (phases on stderr, kept in
# BENCH_WORK/restore-K.log) under /usr/bin/time for its peak RSS.
# Environment: BENCH_ROUNDS, BENCH_BUILD (default build-bench, Release),
# BENCH_SKIP_BUILD=1, BENCH_WORK (default bench/work-restore, wiped; a
# directory in /dev/shm measures without the disk, whose sub-second timings
# vary several-fold here), BENCH_SETTLE (seconds before each timed step,
# default 31; 0 is fine in tmpfs), BENCH_BASELINE.
set -euo pipefail
N=${1:-10000}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
BUILD=${BENCH_BUILD:-$REPO/build-bench}
WORK=${BENCH_WORK:-$BENCH_DIR/work-restore}
WRT=$BUILD/wrt
ROUNDS=${BENCH_ROUNDS:-3}
die() { echo "bench: $*" >&2; exit 1; }
for tool in tar python3 /usr/bin/time; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
if [[ -z ${BENCH_SKIP_BUILD:-} ]]; then
  cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWRT_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS= >/dev/null
  cmake --build "$BUILD" -j2 --target wrt wrt-plugin-command >/dev/null
fi
[[ -x $WRT ]] || die "no wrt binary at $WRT"
rm -rf "$WORK" && mkdir -p "$WORK"
python3 "$BENCH_DIR/gen_dag.py" "$WORK/src" --stages "$N" 2>"$WORK/gen.txt"
rm -f "$WORK/src/build.ninja"
export CI=true
cp -a "$WORK/src" "$WORK/base"
(cd "$WORK/base" && "$WRT" run -j 2 >"$WORK/full.log" 2>&1) || die "the full run failed, see $WORK/full.log"
# As in remote.sh: on ext4 without a journal an inode freed in the last 30 s
# is skipped by the allocator, so every timed run waits that window out.
settle() { sync; sleep "${BENCH_SETTLE:-31}"; }
seconds() { python3 -c "print(f'{$2 - $1:.3f}')"; }
walls=(); tars=(); rss=(); bases=(); floors=()
for ((round = 1; round <= ROUNDS; round++)); do
  rm -rf "$WORK/fresh" "$WORK/copy"
  cp -a "$WORK/src" "$WORK/fresh"
  mkdir "$WORK/copy"
  settle
  t0=$(date +%s.%N)
  (cd "$WORK/fresh" && WRT_PHASE_TIMES=1 /usr/bin/time -f 'maxrss_kib %M' "$WRT" run -j 2 \
    --cache-dir "$WORK/base/.wrt/cache" --report "$WORK/restore.json" >"$WORK/restore-$round.log" 2>&1) ||
    die "the restore failed, see $WORK/restore-$round.log"
  t1=$(date +%s.%N)
  walls+=("$(seconds "$t0" "$t1")")
  rss+=("$(awk '/^maxrss_kib/ {printf "%.1f", $2 / 1024}' "$WORK/restore-$round.log")")
  python3 - "$WORK/restore.json" "$N" <<'PY' || die "the restore did not serve every stage from the cache"
import json, sys
r = json.load(open(sys.argv[1]))
n = sum(1 for s in r["stages"] if s["status"] == "cached")
assert n == int(sys.argv[2]), f"{n} cached of {sys.argv[2]}"
PY
  diff -rq "$WORK/base/out" "$WORK/fresh/out" >/dev/null || die "restored outputs differ"
  if [[ -n ${BENCH_BASELINE:-} ]]; then
    rm -rf "$WORK/fresh-base" && cp -a "$WORK/src" "$WORK/fresh-base"
    settle
    t0=$(date +%s.%N)
    (cd "$WORK/fresh-base" && "$BENCH_BASELINE" run -j 2 --cache-dir "$WORK/base/.wrt/cache" \
      --report "$WORK/restore-base.json" >/dev/null 2>&1) ||
      die "the baseline's restore failed"
    t1=$(date +%s.%N)
    bases+=("$(seconds "$t0" "$t1")")
    diff -rq "$WORK/base/out" "$WORK/fresh-base/out" >/dev/null || die "the baseline's restored outputs differ"
  fi
  settle
  t0=$(date +%s.%N)
  tar -C "$WORK/base" -cf - out | tar -C "$WORK/copy" -xf -
  t1=$(date +%s.%N)
  tars+=("$(seconds "$t0" "$t1")")
  rm -rf "$WORK/fresh-floor" && cp -a "$WORK/src" "$WORK/fresh-floor"
  settle
  t0=$(date +%s.%N)
  # cat, not tar, reads the inputs: GNU tar writing to /dev/null skips
  # reading the files, and one process would leave a core idle.
  (cd "$WORK/fresh-floor" && find src -type f -print0 | xargs -0 -P 2 -n 4096 cat >/dev/null) &
  reader=$!
  tar -C "$WORK/base" -cf - out | tar -C "$WORK/fresh-floor" -xf -
  wait "$reader"
  t1=$(date +%s.%N)
  floors+=("$(seconds "$t0" "$t1")")
done
echo "wrt restore: ${walls[*]} s; tar copy: ${tars[*]} s; wrt peak RSS: ${rss[*]} MiB" >&2
python3 - "$N" "${walls[*]}" "${tars[*]}" "${rss[*]}" "${bases[*]:-}" "${floors[*]}" <<'PY' | tee "$WORK/table.md"
import statistics, sys
n = sys.argv[1]
w = [float(x) for x in sys.argv[2].split()]
t = [float(x) for x in sys.argv[3].split()]
m = [float(x) for x in sys.argv[4].split()]
ratios = [a / b for a, b in zip(w, t)]
print(f"| {n} outputs, 2 jobs | median (s) | rounds (s) | ratio | target |")
print("|---|---:|---|---:|---|")
print(f"| tar copy of out/ | {statistics.median(t):.3f} | {' '.join(f'{x:.2f}' for x in t)} | 1.00 | |")
print(f"| wrt run, fresh checkout, warm cache | {statistics.median(w):.3f} | {' '.join(f'{x:.2f}' for x in w)} "
      f"| {statistics.median(ratios):.2f} (per round {' '.join(f'{x:.2f}' for x in ratios)}) | <= 1.5 |")
if sys.argv[5].strip():
    b = [float(x) for x in sys.argv[5].split()]
    br = [x / y for x, y in zip(b, t)]
    print(f"| baseline wrt (BENCH_BASELINE), same rounds | {statistics.median(b):.3f} | {' '.join(f'{x:.2f}' for x in b)} "
          f"| {statistics.median(br):.2f} (per round {' '.join(f'{x:.2f}' for x in br)}) | |")
f = [float(x) for x in sys.argv[6].split()]
fr = [a / b for a, b in zip(w, f)]
print(f"| floor: tar copy while 2 cats read every input | {statistics.median(f):.3f} | {' '.join(f'{x:.2f}' for x in f)} "
      f"| {statistics.median(f) / statistics.median(t):.2f} | |")
print(f"| wrt against the floor | | | {statistics.median(fr):.2f} (per round {' '.join(f'{x:.2f}' for x in fr)}) | |")
print(f"| wrt peak RSS (MiB) | {statistics.median(m):.1f} | {' '.join(f'{x:.1f}' for x in m)} | | |")
PY
echo "phases of the last restore:" >&2
grep "wrt: phase" "$WORK/restore-$ROUNDS.log" >&2 || true
