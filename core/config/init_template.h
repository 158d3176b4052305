// `wrt init`: what kind of project a directory holds (CMake, Cargo, or
// neither) and the starter wrt.toml that fits it, using the bundled plugins.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace wrt {

enum class ProjectKind { kGeneric, kCMake, kCargo };
const char* project_kind_name(ProjectKind k);  // "generic", "cmake", "cargo"

struct DetectedProject {
  ProjectKind kind = ProjectKind::kGeneric;
  std::string name;  // from project(...) or [package] name; else the directory's name
  // Workspace-relative inputs of the build stages: the project files and the
  // top-level source directories (build directories left out: they change
  // on every build and would make every key miss).
  std::vector<std::string> inputs;
};

// Looks at `dir`: CMakeLists.txt at the root is CMake, Cargo.toml is Cargo
// (CMake wins when both are there: a C++ project with a Rust part).
DetectedProject detect_project(const std::filesystem::path& dir);

// The wrt.toml `wrt init` writes for `p`.
std::string init_config(const DetectedProject& p);

}  // namespace wrt
