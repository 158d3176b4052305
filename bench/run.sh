#!/usr/bin/env bash
# wrt vs ninja on the same generated DAG (bench/gen_dag.py), 2 jobs each.
#
#   bash bench/run.sh [N]          N stages, default 10000
#
# Environment:
#   BENCH_RUNS=1       timed runs of the full / content-change / touch scenarios
#   BENCH_NOOP_RUNS=10 hyperfine runs of the no-op scenario
#   BENCH_WORK=DIR     workspace root (default bench/work, gitignored; wiped)
#   BENCH_BUILD=DIR    wrt build dir (default build-bench, Release)
#   BENCH_SKIP_BUILD=1 use the existing wrt binary in BENCH_BUILD
#   BENCH_LAYERS=L     layers of the DAG (default N/100: ~100 stages per layer;
#                      issue 17 measures 100,000 stages 1,000 wide: BENCH_LAYERS=100)
#
# Prints a Markdown table and writes it to bench/results.md.
set -euo pipefail

N=${1:-10000}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
BUILD=${BENCH_BUILD:-$REPO/build-bench}
WORK=${BENCH_WORK:-$BENCH_DIR/work}
RUNS=${BENCH_RUNS:-1}
NOOP_RUNS=${BENCH_NOOP_RUNS:-10}
JOBS=2
WRT=$BUILD/wrt
RESULTS=$BENCH_DIR/results.md

die() { echo "bench: $*" >&2; exit 1; }
for tool in ninja hyperfine python3 cmake; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done

# --- build wrt (Release) --------------------------------------------------
# Only the binary and the command plugin: the bench needs nothing else, and
# plugins under construction elsewhere in the tree cannot break it.
if [[ -z ${BENCH_SKIP_BUILD:-} ]]; then
  echo "bench: building wrt (Release) in $BUILD" >&2
  cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWRT_BUILD_TESTS=OFF \
    -DCMAKE_CXX_FLAGS= >/dev/null
  cmake --build "$BUILD" -j2 --target wrt wrt-plugin-command >/dev/null
fi
[[ -x $WRT ]] || die "no wrt binary at $WRT"

# --- workspaces -------------------------------------------------------------
# One copy per tool: each keeps its own outputs and state (.wrt/ or
# .ninja_log), so neither sees the other's files. Same generator, same
# arguments, so the same inputs, graph and command strings.
# Nothing is deleted until every measurement is over: files are moved into
# $TRASH, which goes at the end. On ext4 without a journal (this machine's
# disk) an inode freed in the last 60 s -- 360 s while its inode-table block
# is dirty, which creating files next to it makes it -- is skipped, with a
# buffer lookup, by every file creation in its group (ext4's
# recently_deleted). A workspace deleted just before a scenario therefore
# taxes each file the tools create, and wrt creates more per stage (output,
# log, cache blobs and entry) than ninja (the output): a cost that no fresh CI
# checkout has. Start a bench at least 6 minutes after the last one ended.
source "$BENCH_DIR/trash.sh"
trap 'rm -rf "$TRASH"' EXIT
trash "$WORK"
mkdir -p "$WORK"
python3 "$BENCH_DIR/gen_dag.py" "$WORK/wrt" --stages "$N" ${BENCH_LAYERS:+--layers "$BENCH_LAYERS"} 2>"$WORK/gen.txt"
cp -a "$WORK/wrt" "$WORK/ninja"
rm "$WORK/ninja/wrt.toml" "$WORK/wrt/build.ninja"
cat "$WORK/gen.txt" >&2
LOGS=$WORK/logs
mkdir -p "$LOGS"

# --- measurement helpers ----------------------------------------------------
now() { date +%s.%N; }

# peak_rss_run OUTFILE_PREFIX CMD... : runs CMD in the current directory with
# stdout+stderr to PREFIX.log; writes wall seconds to PREFIX.wall and peak RSS
# in KiB to PREFIX.rss; returns CMD's exit status.
if [[ -x /usr/bin/time ]] && /usr/bin/time -v true 2>&1 | grep -q "Maximum resident"; then
  peak_rss_run() {
    local p=$1; shift
    local t0 t1 rc=0
    t0=$(now)
    /usr/bin/time -v -o "$p.time" "$@" >"$p.log" 2>&1 || rc=$?
    t1=$(now)
    echo "$t0 $t1" | awk '{printf "%.3f\n", $2 - $1}' >"$p.wall"
    awk -F': ' '/Maximum resident set size/ {print $2}' "$p.time" >"$p.rss"
    return $rc
  }
else
  # No GNU time: poll the process's high-water mark (misses nothing, since
  # VmHWM is a high-water mark; only the last poll before exit can be late).
  peak_rss_run() {
    local p=$1; shift
    local t0 t1 rc=0 hwm=0 v pid
    t0=$(now)
    "$@" >"$p.log" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      v=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      [[ -n $v && $v -gt $hwm ]] && hwm=$v
      sleep 0.01
    done
    wait "$pid" || rc=$?
    t1=$(now)
    echo "$t0 $t1" | awk '{printf "%.3f\n", $2 - $1}' >"$p.wall"
    echo "$hwm" >"$p.rss"
    return $rc
  }
fi

export CI=true  # wrt: one plain line per stage, no live status line

run_wrt() {  # run_wrt PREFIX : one `wrt run`, report in PREFIX.json
  local p=$1
  (cd "$WORK/wrt" && peak_rss_run "$p" "$WRT" run -j "$JOBS" --report "$p.json") ||
    die "wrt failed, see $p.log"
}
run_ninja() {  # run_ninja PREFIX
  local p=$1
  (cd "$WORK/ninja" && peak_rss_run "$p" ninja -j "$JOBS") || die "ninja failed, see $p.log"
}
# Stages each tool actually ran: wrt's report statuses other than "cached";
# ninja's "[k/n] command" progress lines.
rerun_wrt() {
  python3 - "$1.json" <<'EOF'
import json, sys
stages = json.load(open(sys.argv[1]))["stages"]
bad = [s["name"] for s in stages if s["status"] not in ("passed", "cached")]
if bad:
    sys.exit(f"bench: stages not passed/cached: {bad[:5]}")
print(sum(1 for s in stages if s["status"] != "cached"))
EOF
}
rerun_ninja() { grep -cE '^\[[0-9]+/[0-9]+\] ' "$1.log" || true; }
clean_wrt() { trash "$WORK/wrt/.wrt" "$WORK/wrt/out"; mkdir "$WORK/wrt/out"; }
clean_ninja() { trash "$WORK/ninja/.ninja_log" "$WORK/ninja/.ninja_deps" "$WORK/ninja/out"; mkdir "$WORK/ninja/out"; }
# Both tools must have produced the same bytes, or the comparison is void.
same_outputs() { diff -rq "$WORK/wrt/out" "$WORK/ninja/out" >/dev/null || die "outputs differ between wrt and ninja after $1"; }

mean() { python3 -c 'import sys; v=[float(x) for x in sys.argv[1:]]; print(f"{sum(v)/len(v):.3f}")' "$@"; }
max() { python3 -c 'import sys; print(max(int(x) for x in sys.argv[1:]))' "$@"; }

declare -A WALL_W WALL_N RERUN_W RERUN_N RSS_W RSS_N NOTE

# scenario NAME SETUP_FN : RUNS times: SETUP_FN, then wrt and ninja each once.
# wrt and ninja alternate so that background load hits both alike.
scenario() {
  local name=$1 setup=$2 r ww=() wn=() rss=() rssn=() rw rn
  for ((r = 1; r <= RUNS; r++)); do
    "$setup" "$r"
    run_wrt "$LOGS/$name-wrt-$r"
    run_ninja "$LOGS/$name-ninja-$r"
    same_outputs "$name"
    ww+=("$(cat "$LOGS/$name-wrt-$r.wall")")
    wn+=("$(cat "$LOGS/$name-ninja-$r.wall")")
    rss+=("$(cat "$LOGS/$name-wrt-$r.rss")")
    rssn+=("$(cat "$LOGS/$name-ninja-$r.rss")")
    rw=$(rerun_wrt "$LOGS/$name-wrt-$r")
    rn=$(rerun_ninja "$LOGS/$name-ninja-$r")
  done
  WALL_W[$name]=$(mean "${ww[@]}")
  WALL_N[$name]=$(mean "${wn[@]}")
  RSS_W[$name]=$(max "${rss[@]}")
  RSS_N[$name]=$(max "${rssn[@]}")
  RERUN_W[$name]=$rw
  RERUN_N[$name]=$rn
  echo "bench: $name: wrt ${WALL_W[$name]}s (${rw} run), ninja ${WALL_N[$name]}s (${rn} run)" >&2
}

# The clean moves files aside (trash, above); the settle lets the writeback
# of the previous scenario's files finish before the clock starts.
setup_full() { clean_wrt; clean_ninja; sync; sleep 10; }
# A new content each run, the same for both tools.
setup_change() {
  local f
  for f in "$WORK/wrt/src/s0_0.txt" "$WORK/ninja/src/s0_0.txt"; do echo "edit $1" >>"$f"; done
}
setup_touch() { touch "$WORK/wrt/src/s0_0.txt" "$WORK/ninja/src/s0_0.txt"; }

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

echo "bench: full run from clean ($RUNS run(s))" >&2
scenario full setup_full

# No-op: many runs through hyperfine; then one run with a report for the
# stage count and the peak RSS. hyperfine discards the tools' output.
echo "bench: no-op ($NOOP_RUNS runs each)" >&2
hyperfine --warmup 1 --runs "$NOOP_RUNS" --style basic --export-json "$LOGS/noop.json" \
  -n wrt "cd '$WORK/wrt' && '$WRT' run -j $JOBS" \
  -n ninja "cd '$WORK/ninja' && ninja -j $JOBS" >"$LOGS/noop-hyperfine.txt" 2>&1 ||
  die "hyperfine failed, see $LOGS/noop-hyperfine.txt"
read -r NOOP_W NOOP_WSD NOOP_N NOOP_NSD < <(python3 - "$LOGS/noop.json" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
print(f'{r["wrt"]["mean"]:.3f} {r["wrt"]["stddev"]:.3f} {r["ninja"]["mean"]:.3f} {r["ninja"]["stddev"]:.3f}')
EOF
)
run_wrt "$LOGS/noop-wrt"
run_ninja "$LOGS/noop-ninja"
WALL_W[noop]=$NOOP_W
WALL_N[noop]=$NOOP_N
RSS_W[noop]=$(cat "$LOGS/noop-wrt.rss")
RSS_N[noop]=$(cat "$LOGS/noop-ninja.rss")
RERUN_W[noop]=$(rerun_wrt "$LOGS/noop-wrt")
RERUN_N[noop]=$(rerun_ninja "$LOGS/noop-ninja")
NOTE[noop]=" (±${NOOP_WSD} / ±${NOOP_NSD}, $NOOP_RUNS runs)"
echo "bench: noop: wrt ${NOOP_W}s, ninja ${NOOP_N}s" >&2

echo "bench: content change of src/s0_0.txt ($RUNS run(s))" >&2
scenario change setup_change
echo "bench: touch of src/s0_0.txt ($RUNS run(s))" >&2
scenario touch setup_touch

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- table --------------------------------------------------------------------
ratio() { python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f"{a/b:.2f}" if b > 0 else "n/a")' "$1" "$2"; }
mib() { python3 -c 'import sys; print(f"{int(sys.argv[1])/1024:.1f}")' "$1"; }
check() {  # check SCENARIO -> target verdict
  local s=$1 r
  r=$(ratio "${WALL_W[$s]}" "${WALL_N[$s]}")
  python3 - "$s" "$r" "${WALL_W[$s]}" "${RERUN_W[$s]}" <<'EOF'
import sys
s, r, w, rerun = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
r = float(r) if r != "n/a" else float("inf")
if s == "full":
    print(("met" if r <= 1.1 else "**missed**") + ": ≤ 1.1× ninja")
elif s == "noop":
    ok = r <= 3 and w < 0.3
    print(("met" if ok else "**missed**") + ": ≤ 3× ninja and < 300 ms")
elif s == "change":
    print("(no target)")
elif s == "touch":
    print(("met" if rerun == 0 else "**missed**") + ": wrt re-runs 0 stages")
EOF
}

rss_check() {  # rss_check SCENARIO -> issue 17's memory verdict (≤ 2× ninja's peak)
  python3 -c 'import sys; w,n=int(sys.argv[1]),int(sys.argv[2]); print(("met" if n > 0 and w <= 2*n else "**missed**") + ": ≤ 2× ninja")' \
    "${RSS_W[$1]}" "${RSS_N[$1]}"
}

CPU=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
{
  echo "## wrt vs ninja, $N stages, -j $JOBS"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'); wrt $("$WRT" --version | head -1 | cut -d' ' -f2), $(ninja --version | sed 's/^/ninja /'); $(nproc) CPUs ($CPU), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; load average before $LOAD_BEFORE, after $LOAD_AFTER."
  echo "$(sed 's/^gen_dag: //' "$WORK/gen.txt")."
  echo
  echo "| scenario | wrt (s) | ninja (s) | wrt/ninja | stages run: wrt | stages run: ninja | wrt peak RSS (MiB) | ninja peak RSS (MiB) | RSS wrt/ninja | target |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for s in full noop change touch; do
    case $s in
      full) label="full run from clean" ;;
      noop) label="no-op" ;;
      change) label="content change of src/s0_0.txt" ;;
      touch) label="touch src/s0_0.txt (same content)" ;;
    esac
    echo "| $label | ${WALL_W[$s]} | ${WALL_N[$s]} | $(ratio "${WALL_W[$s]}" "${WALL_N[$s]}")${NOTE[$s]:-} | ${RERUN_W[$s]} | ${RERUN_N[$s]} | $(mib "${RSS_W[$s]}") | $(mib "${RSS_N[$s]}") | $(ratio "${RSS_W[$s]}" "${RSS_N[$s]}") | $(check "$s"); memory $(rss_check "$s") |"
  done
  peak=0
  for s in full noop change touch; do ((RSS_W[$s] > peak)) && peak=${RSS_W[$s]}; done
  echo
  if ((peak * 1024 < 100000000)); then v=met; else v="**missed**"; fi
  echo "Peak RSS of wrt over all scenarios: $(mib "$peak") MiB ($v: < 100 MB). Times are wall clock; full, change and touch are the mean of $RUNS run(s) each, no-op the mean of $NOOP_RUNS hyperfine runs (± standard deviation wrt / ninja)."
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
cat "$RESULTS"
