#!/usr/bin/env bash
# Fuzzes the wrt.toml loader (tests/fuzz/config_fuzz.cc), then the cache
# entry readers (tests/fuzz/cache_entry_fuzz.cc), for SECONDS each (default
# 60): builds them with clang, libFuzzer, ASan and UBSan in build-fuzz/,
# checks the inputs that once broke wrt, then mutates the seed corpora. Exits non-zero
# on a crash, hang or sanitizer report; the input is saved in
# build-fuzz/fuzz-artifacts/. tests/fuzz/README.md has the details.
#   scripts/fuzz.sh [SECONDS]      (WRT_FUZZ_JOBS=N limits the build's jobs)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
case "$seconds" in '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;; esac
build="$root/build-fuzz"
bash "$root/scripts/setup.sh" >&2
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=1  # share objects with other clones (scripts/build.sh)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DWRT_FUZZ=ON -DWRT_WERROR=ON -DWRT_BUILD_TESTS=OFF -DWRT_USE_JEMALLOC=OFF >&2
cmake --build "$build" --target config_fuzz cache_entry_fuzz -j "${WRT_FUZZ_JOBS:-$(nproc)}" >&2
fuzzer="$build/tests/fuzz/config_fuzz"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
artifacts="$build/fuzz-artifacts"
found="$build/fuzz-corpus"  # what this and earlier runs discovered; seeds stay untouched
generated="$build/fuzz-generated"
mkdir -p "$artifacts" "$found" "$generated"

# Too big for the repository and for the fuzzer's input size limit below: the
# 1 MB output path that made the nested-output check take 16 s, next to 300
# other outputs and inside another stage's output. Run once, at full size.
python3 - "$generated/long-output-path.toml" <<'PY'
import sys
outs = ", ".join(f'"o{i}/f"' for i in range(300))
with open(sys.argv[1], "w") as f:
    f.write(f'[stages.a]\noutputs = [{outs}, "{"x/" * 500000}f"]\n[stages.b]\noutputs = ["x/x/x"]\n')
PY
"$fuzzer" -timeout=60 -rss_limit_mb=4096 "$generated/long-output-path.toml"

# -max_len holds the 40 KB seeds (a 20,000-segment key); -timeout turns a slow
# input (the quadratic check above took 16 s) into a finding.
"$fuzzer" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 "$found" "$root/tests/fuzz/corpus"

# Cache entries, as a hostile shared cache could write them: the fast reader
# of canonical entries against the general one (cache_entry_fuzz.cc).
entry_found="$build/fuzz-entry-corpus"
mkdir -p "$entry_found"
"$build/tests/fuzz/cache_entry_fuzz" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$artifacts/entry-" -print_final_stats=1 "$entry_found" "$root/tests/fuzz/entry-corpus"
