#!/usr/bin/env bash
# Installs (Debian 12, as root) every package wrt needs to build and test,
# skipping what is already installed. Safe to run any number of times.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config git ccache
  libboost-dev libtomlplusplus-dev libfmt-dev libspdlog-dev libtbb-dev
  catch2 libssl-dev nlohmann-json3-dev libcli11-dev libpugixml-dev libjemalloc-dev libzstd-dev
  python3
  # the real tools the built-in plugins drive, exercised by the tests
  gcovr lcov clang-tidy cppcheck flawfinder libbenchmark-dev libgtest-dev
  spin z3 cvc5
  # tests/junit_export_test.cc: validates --junit output against the JUnit schema
  libxml2-utils
  # tests/graph_test.cc: `wrt graph --format dot` rendered by Graphviz
  graphviz
  # tests/dashboard_test.cc: the dashboard loaded in headless Chromium
  chromium
  # [notify]: libcurl is opened at run time (headers to build); the tests
  # deliver mail through msmtp to aiosmtpd (tests/notify_test.cc)
  libcurl4-openssl-dev msmtp python3-aiosmtpd
  # tests/schema_test.cc: the shipped wrt.toml files validated against `wrt schema`
  python3-jsonschema
  # tests/completions_test.cc: the zsh and fish completion scripts run in those shells
  zsh fish
  # issue 15: the api-stability plugin's abidiff, the doxygen plugin, and the
  # OCI deploy target read back by skopeo and umoci in tests/deploy_e2e_test.cc
  abigail-tools doxygen skopeo umoci
  # tests/remote_cache_test.cc: the remote cache against nginx with WebDAV PUT,
  # and zstd transfers against tests/servers/bazel_remote_double.py
  nginx-light zstd
  # bench/: the reference build tool and a timer
  hyperfine
  # tests/thirdparty_e2e_test.cc: counts the processes a no-op run starts
  strace
  # scripts/fuzz.sh: clang with libFuzzer (libclang_rt.fuzzer is in libclang-rt-14-dev)
  clang libclang-rt-14-dev
)
# Rust: a toolchain already on PATH (e.g. rustup's) is used as it is;
# otherwise Debian's.
if ! command -v cargo >/dev/null 2>&1; then packages+=(cargo rustc rustfmt rust-clippy); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
