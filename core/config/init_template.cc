#include "core/config/init_template.h"

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/core.h>
#include <toml++/toml.h>

#include "core/config/config.h"

namespace wrt {

namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A name written into a TOML basic string: quotes, backslashes and control
// characters escaped.
std::string toml_quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') (out += '\\') += ch;
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\u{:04X}", c);
    else out += ch;
  }
  return out + "\"";
}

std::string toml_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + toml_quoted(i);
  return "[" + out + "]";
}

// The first project(NAME ...) of a CMakeLists.txt, comments skipped; "" if none.
std::string cmake_project_name(const std::string& text) {
  std::string code;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) code += line.substr(0, line.find('#')) + "\n";
  static const std::regex kProject(R"(\bproject\s*\(\s*"?([A-Za-z0-9_.+-]+))", std::regex::icase);
  std::smatch m;
  return std::regex_search(code, m, kProject) ? m[1].str() : "";
}

// [package] name of a Cargo.toml; "" if it has none or does not parse.
std::string cargo_package_name(const fs::path& file) {
  try {
    toml::table t = toml::parse_file(file.string());
    if (auto name = t["package"]["name"].value<std::string>()) return *name;
  } catch (const toml::parse_error&) {
    // Not ours to judge: cargo will say what is wrong with it.
  }
  return "";
}

bool is_c_family_source(const std::string& name) {
  static const char* const kExt[] = {".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".hxx", ".ipp"};
  const std::string ext = fs::path(name).extension().string();
  return std::find_if(std::begin(kExt), std::end(kExt), [&](const char* e) { return ext == e; }) != std::end(kExt);
}

// Top-level directories that hold build products or tools' state, not
// sources: a key over them would change on every build.
bool is_build_dir(const std::string& name) {
  static const char* const kNames[] = {"build", "out", "target", "coverage", "node_modules", "bench-counters"};
  if (name.empty() || name[0] == '.') return true;  // .git, .wrt, .vscode, ...
  if (name.rfind("build", 0) == 0 || name.rfind("cmake-build-", 0) == 0) return true;
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

// The inputs of a CMake project: its CMake files and source files at the
// top level, and every top-level directory that is not a build directory.
std::vector<std::string> cmake_inputs(const fs::path& dir) {
  std::vector<std::string> files, dirs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory(ec)) {
      if (!is_build_dir(name)) dirs.push_back(name + "/**");
    } else if (name == "CMakeLists.txt" || name == "CMakePresets.json" || e.path().extension() == ".cmake" ||
               is_c_family_source(name)) {
      files.push_back(name);
    }
  }
  std::sort(files.begin(), files.end());
  std::sort(dirs.begin(), dirs.end());
  // CMakeLists.txt first: the file that made this a CMake project.
  std::stable_partition(files.begin(), files.end(), [](const std::string& f) { return f == "CMakeLists.txt"; });
  files.insert(files.end(), dirs.begin(), dirs.end());
  return files;
}

// A crate's inputs: the manifest, the lock file and cargo's conventional
// source directories that exist. A named input must exist (wrt fails a
// stage whose literal input is missing), so Cargo.lock is listed only when
// it is there already.
std::vector<std::string> cargo_inputs(const fs::path& dir) {
  std::vector<std::string> out = {"Cargo.toml"};
  std::error_code ec;
  for (const char* f : {"Cargo.lock", "build.rs"})
    if (fs::exists(dir / f, ec)) out.push_back(f);
  bool any_dir = false;
  for (const char* d : {"src", "tests", "benches", "examples"})
    if (fs::is_directory(dir / d, ec)) {
      out.push_back(std::string(d) + "/**");
      any_dir = true;
    }
  if (!any_dir) out.push_back("src/**");
  return out;
}

std::string cmake_config(const DetectedProject& p) {
  const std::string in = toml_list(p.inputs);
  return fmt::format(R"(# wrt pipeline for the CMake project {name}, written by `wrt init`.
# Stages: configure and build (cmake), tests (ctest), line coverage (gcovr),
# clang-tidy and cppcheck, all with wrt's bundled plugins.
# `wrt list` shows them; `wrt run ci` runs them; README.md of wrt, "wrt.toml".
[project]
name = {name}

[settings]
timeout_minutes = 30

# build/ is CMake's incremental state: kept between runs, never cached. The
# stages that read it list the sources it was built from as their inputs, so
# they re-run exactly when a rebuild would change what they read.
# --coverage instruments the build for the coverage stage (drop the two
# definitions, the coverage stage and reset_coverage to build without it).
[stages.build]
plugin = "cmake"
inputs = {in}
state = ["build"]
with = {{ build_dir = "build", build_type = "Debug", definitions = {{ CMAKE_C_FLAGS = "--coverage", CMAKE_CXX_FLAGS = "--coverage" }} }}

# reset_coverage: only this run's coverage counters count.
[stages.test]
plugin = "ctest"
needs = ["build"]
inputs = {in}
outputs = ["build/wrt-coverage-counters.txt"]
with = {{ build_dir = "build", reset_coverage = "build" }}

# Add min_line = 80 (percent) to fail below a threshold.
[stages.coverage]
plugin = "coverage"
needs = ["test"]
inputs = {in}
outputs = ["coverage/lcov.info", "coverage/cobertura.xml"]
with = {{ tool = "gcovr", build_dir = "build" }}

[stages.tidy]
plugin = "clang-tidy"
needs = ["build"]   # for build/compile_commands.json
inputs = {in}
with = {{ build_dir = "build", checks = "-*,bugprone-*,performance-*" }}

# The files the build compiles, with their flags (build/compile_commands.json).
[stages.cppcheck]
plugin = "cppcheck"
needs = ["build"]
inputs = {in}
with = {{ project = "build/compile_commands.json" }}

[pipelines.ci]
stages = ["build", "test", "coverage", "tidy", "cppcheck"]
)",
                     fmt::arg("name", toml_quoted(p.name)), fmt::arg("in", in));
}

std::string cargo_config(const DetectedProject& p) {
  const std::string in = toml_list(p.inputs);
  return fmt::format(R"(# wrt pipeline for the Rust crate {name}, written by `wrt init`.
# Stages: check, test, clippy, rustfmt and rustdoc through wrt's bundled
# cargo plugin. `wrt list` shows them; `wrt run ci` runs them.
[project]
name = {name}

[settings]
timeout_minutes = 30

# target/ is cargo's own incremental state; the stages share it.{lock_note}
[stages.check]
plugin = "cargo"
inputs = {in}
with = {{ command = "check", args = ["--all-targets"], target_dir = "target" }}

[stages.test]
plugin = "cargo"
needs = ["check"]
inputs = {in}
with = {{ command = "test", target_dir = "target" }}

[stages.clippy]
description = "any clippy warning fails the stage"
plugin = "cargo"
needs = ["check"]
inputs = {in}
with = {{ command = "clippy", args = ["--all-targets"], target_dir = "target", fail_on = "warning" }}

[stages.fmt-check]
plugin = "cargo"
inputs = {in}
with = {{ command = "fmt-check" }}

[stages.doc]
plugin = "cargo"
needs = ["check"]
inputs = {in}
with = {{ command = "doc", args = ["--no-deps"], target_dir = "target", fail_on = "warning" }}

[pipelines.ci]
stages = ["check", "test", "clippy", "fmt-check", "doc"]
)",
                     fmt::arg("name", toml_quoted(p.name)), fmt::arg("in", in),
                     fmt::arg("lock_note", std::find(p.inputs.begin(), p.inputs.end(), "Cargo.lock") != p.inputs.end()
                                               ? ""
                                               : "\n# Add \"Cargo.lock\" to the inputs once cargo has written it."));
}

}  // namespace

const char* project_kind_name(ProjectKind k) {
  switch (k) {
    case ProjectKind::kCMake: return "cmake";
    case ProjectKind::kCargo: return "cargo";
    case ProjectKind::kGeneric: break;
  }
  return "generic";
}

DetectedProject detect_project(const fs::path& dir) {
  DetectedProject p;
  std::error_code ec;
  if (fs::is_regular_file(dir / "CMakeLists.txt", ec)) {
    p.kind = ProjectKind::kCMake;
    p.name = cmake_project_name(read_text(dir / "CMakeLists.txt"));
    p.inputs = cmake_inputs(dir);
  } else if (fs::is_regular_file(dir / "Cargo.toml", ec)) {
    p.kind = ProjectKind::kCargo;
    p.name = cargo_package_name(dir / "Cargo.toml");
    p.inputs = cargo_inputs(dir);
  }
  if (p.name.empty()) p.name = dir.filename().string();
  if (p.name.empty()) p.name = "project";
  return p;
}

std::string init_config(const DetectedProject& p) {
  switch (p.kind) {
    case ProjectKind::kCMake: return cmake_config(p);
    case ProjectKind::kCargo: return cargo_config(p);
    case ProjectKind::kGeneric: break;
  }
  return starter_config(p.name);
}

}  // namespace wrt
