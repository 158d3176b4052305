// git in the stage's workspace, through the host's spawn (under the
// stage's timeout, its output in the stage log).
#pragma once

#include <string>
#include <vector>

#include <wrt/plugin.hpp>

namespace wrt::plugins {

struct GitResult {
  bool ok = false;   // started, exit code 0, no signal
  std::string out;   // stdout+stderr without trailing newlines/spaces; why it did not start otherwise
};

GitResult run_git(const wrt::sdk::Stage& stage, const std::vector<std::string>& args);

}  // namespace wrt::plugins
